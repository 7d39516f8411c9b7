"""The bot's log lines: one JSON object per line, with the keys the Lambdas' Powertools lines have.

docs/architecture.md, "Logs": ``level``, ``location``, ``message``, ``timestamp``, ``service``,
``name`` (the logger), ``correlation_id`` while an inbound request is handled (the HTTP handlers
set it: a slash command's trigger id, a click's post id, a dialog's callback id, an SNS message id),
the ``extra`` fields a call passes, and ``exception`` / ``exception_name`` with a traceback.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Final

SERVICE: Final = "jit-bot"

# Work started for a request (background tasks, spawned coroutines) copies the context, so it
# keeps the id of the request that started it.
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# What every LogRecord has; anything else on a record came from ``extra=`` and is logged as a key.
_RECORD_ATTRIBUTES: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = SERVICE) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "service": self._service,
            "name": record.name,
        }
        current = correlation_id.get()
        if current is not None:
            line["correlation_id"] = current
        line.update((key, value) for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: int | str = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """The root logger writes JSON lines (to stderr unless ``stream``); the handler it added."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    return handler
