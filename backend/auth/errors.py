"""Why a signed request was refused, and the errors of the stores the check depends on."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class AuthReason(StrEnum):
    """Reason codes: they go to the log line and the metric, never to the caller."""

    MISSING_HEADER = "missing_header"
    DUPLICATE_HEADER = "duplicate_header"
    MALFORMED_HEADER = "malformed_header"
    BODY_TOO_LARGE = "body_too_large"
    TIMESTAMP_SKEW = "timestamp_skew"
    UNKNOWN_KEY = "unknown_key"
    RETIRED_KEY = "retired_key"
    KID_AUDIENCE_MISMATCH = "kid_audience_mismatch"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED_NONCE = "replayed_nonce"
    NONCE_STORE_UNAVAILABLE = "nonce_store_unavailable"
    KEY_STORE_UNAVAILABLE = "key_store_unavailable"


_STATUS_BY_REASON: Final = {
    AuthReason.BODY_TOO_LARGE: 413,
    AuthReason.NONCE_STORE_UNAVAILABLE: 503,
    AuthReason.KEY_STORE_UNAVAILABLE: 503,
}


class AuthenticationFailed(Exception):
    """The request is not accepted. ``status_code`` is 401 unless the reason says otherwise."""

    def __init__(self, reason: AuthReason) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status_code = _STATUS_BY_REASON.get(reason, 401)


class KeyStoreUnavailable(Exception):
    """The key set could not be read or is not a valid key set."""


class NonceStoreUnavailable(Exception):
    """The nonce store could not say whether a nonce is fresh: fail closed."""
