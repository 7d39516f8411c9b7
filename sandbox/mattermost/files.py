"""File uploads (``POST /api/v4/files``, ``GET /api/v4/files/{file_id}/info``) as the server does them.

A file is uploaded to a channel by a member and attached by its id to one post of the uploader in
that channel (``file_ids``); the server refuses ids it does not know, of another user or channel,
or already attached (as ``app/file.go`` and ``app/post.go`` do). Content stays in memory.
"""

from __future__ import annotations

import mimetypes
import struct
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

from sandbox.mattermost.errors import AppError
from sandbox.mattermost.store import User, new_id

MAX_FILE_BYTES = 100 * 1024 * 1024  # the server's default MaxFileSize
MAX_FILES_PER_POST = 10


@dataclass
class StoredFile:
    info: dict[str, Any]
    channel_id: str
    content: bytes = field(repr=False)


def _png_size(content: bytes) -> tuple[int, int] | None:
    if content[:8] != b"\x89PNG\r\n\x1a\n" or len(content) < 24:
        return None
    width, height = struct.unpack(">II", content[16:24])
    return int(width), int(height)


def new_file(user: User, channel_id: str, name: str, content: bytes, now_ms: int) -> StoredFile:
    if not name:
        raise AppError(400, "api.file.upload_file.incorrect_number_of_files.app_error", "A file name is required.")
    if len(content) > MAX_FILE_BYTES:
        raise AppError(413, "api.file.upload_file.too_large_detailed.app_error", "The file is too large.")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    info: dict[str, Any] = {
        "id": new_id(),
        "user_id": user.id,
        "post_id": "",
        "create_at": now_ms,
        "update_at": now_ms,
        "delete_at": 0,
        "name": name,
        "extension": extension,
        "size": len(content),
        "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "has_preview_image": False,
    }
    if (size := _png_size(content)) is not None:
        info["width"], info["height"] = size
        info["has_preview_image"] = True
    return StoredFile(info=info, channel_id=channel_id, content=content)


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """``multipart/form-data`` with the standard library's MIME parser: the upload's fields."""
    message = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise AppError(400, "api.file.upload_file.read_request.app_error", "Could not parse the multipart body.")
    fields: dict[str, Any] = {"channel_id": "", "files": [], "client_ids": []}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if name == "files":
            fields["files"].append((part.get_filename() or "", content))
        elif name == "channel_id":
            fields["channel_id"] = content.decode()
        elif name == "client_ids":
            fields["client_ids"].append(content.decode())
    return fields


def attach(files: dict[str, StoredFile], file_ids: list[str], author: User, channel_id: str, post_id: str) -> None:
    """Check every id first, then mark them attached: a refused post attaches nothing."""
    if len(file_ids) > MAX_FILES_PER_POST:
        raise AppError(400, "model.post.is_valid.file_ids.app_error", "Too many files.")
    for file_id in file_ids:
        stored = files.get(file_id)
        if stored is None or stored.info["user_id"] != author.id or stored.channel_id != channel_id:
            raise AppError(400, "api.post.create_post.file_ids.app_error", f"Invalid file id {file_id}.")
        if stored.info["post_id"]:
            raise AppError(400, "api.post.create_post.file_ids.app_error", f"File {file_id} is already attached.")
    for file_id in file_ids:
        files[file_id].info["post_id"] = post_id
