"""The Lambdas' log lines: one JSON object per line, from one Powertools ``Logger`` per process.

docs/architecture.md, "Logs": every line carries the level, message, timestamp, service, the Lambda
context and a correlation id taken from the event. The modules keep their plain ``logging`` loggers
(``backend.api``, ``backend.auth``, ...); they are children of ``backend``, which gets the Logger's
handler, so their lines come out in the same JSON with the same keys.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    Handler = Callable[[Any, Any], Any]

APP_LOGGER = "backend"
DEFAULT_LEVEL = "INFO"

# JMESPath into the event. jit-api gets API Gateway proxy events (API Gateway's request id) and
# Step Functions task events (the execution name the state machine passes in, else the JIT request id).
API_CORRELATION_ID = f"{correlation_paths.API_GATEWAY_REST} || execution || request_id"
# jit-reconciler gets EventBridge scheduled events: the event's id.
RECONCILER_CORRELATION_ID = correlation_paths.EVENT_BRIDGE


def log_level(env: Mapping[str, str]) -> str:
    """``POWERTOOLS_LOG_LEVEL``, else the legacy ``LOG_LEVEL``, else INFO (Lambda's own log level control wins)."""
    return (env.get("POWERTOOLS_LOG_LEVEL") or env.get("LOG_LEVEL") or DEFAULT_LEVEL).upper()


def lambda_logger(service: str, env: Mapping[str, str], stream: IO[str] | None = None) -> Logger:
    """The process's Logger; the ``backend`` loggers write through its handler from now on."""
    logger = Logger(service=service, level=log_level(env), stream=stream, utc=True, use_rfc3339=True)
    logging.getLogger(APP_LOGGER)  # registered now, so the copy reaches it whatever is imported later
    copy_config_to_registered_loggers(source_logger=logger, include={APP_LOGGER})
    return logger


def logged(logger: Logger, handler: Handler, correlation_id_path: str) -> Handler:
    """``handler`` with the Lambda context and the event's correlation id on every line it logs."""
    # No clear_state: it would also drop the ``name`` key the module loggers' lines carry; the
    # context and the correlation id are replaced on every invocation anyway.
    wrapped: Handler = logger.inject_lambda_context(handler, correlation_id_path=correlation_id_path)
    return wrapped
