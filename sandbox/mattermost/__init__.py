"""Local Mattermost emulator held to Mattermost's own OpenAPI schemas (the committed cut in contract/)."""

from sandbox.mattermost.errors import AppError, Violation
from sandbox.mattermost.ratelimit import RateLimit
from sandbox.mattermost.server import MattermostEmulator
from sandbox.mattermost.service import ClickResult, CommandResult, DialogResult

__all__ = ["AppError", "ClickResult", "CommandResult", "DialogResult", "MattermostEmulator", "RateLimit", "Violation"]
