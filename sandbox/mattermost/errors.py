"""Mattermost's error reply (`AppError`) as an exception the REST layer turns into JSON."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    def __init__(self, status: int, error_id: str, message: str, detailed: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.detailed = detailed

    def body(self, request_id: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.error_id,
            "message": self.message,
            "detailed_error": self.detailed,
            "status_code": self.status,
        }
        if request_id:
            body["request_id"] = request_id
        return body


class Violation:
    """A request (or reply) that breaks Mattermost's contract; tests fail on any of these."""

    def __init__(self, kind: str, where: str, detail: str) -> None:
        self.kind = kind
        self.where = where
        self.detail = detail

    def __repr__(self) -> str:
        return f"Violation({self.kind}: {self.where}: {self.detail})"
