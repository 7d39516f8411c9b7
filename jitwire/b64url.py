"""Base64url text as the system writes it: no ``=`` padding (nonces, key secrets, signed dialog state)."""

from __future__ import annotations

import base64
import re


def b64url_encode(raw: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of ``b64url_encode``; raises ``ValueError`` on anything that is not canonical base64url."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url (no padding) text")
    raw = b64url_decode_lenient(text)
    # Reject non-canonical spellings (stray low bits), so one secret has exactly one text form.
    if b64url_encode(raw) != text:
        raise ValueError("not canonical base64url text")
    return raw


def b64url_decode_lenient(text: str) -> bytes:
    """Base64url with or without its padding (settings people paste in); ``ValueError`` if it is not base64."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
