"""Domain errors. Each carries the HTTP status and the stable error code the API returns;
handlers map them in one place (folio.handlers.http) and never leak anything else."""

from __future__ import annotations


class FolioError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FolioError):
    status, code = 400, "invalid_input"


class InvalidCursor(FolioError):
    status, code = 400, "invalid_cursor"


class Unauthorized(FolioError):
    status, code = 401, "unauthorized"


class Forbidden(FolioError):
    status, code = 403, "forbidden"


class NotFound(FolioError):
    status, code = 404, "not_found"


class Conflict(FolioError):
    status, code = 409, "conflict"


class DocumentChanged(Conflict):
    """A write conditioned on the document as read found it changed: read it again and
    decide again. Where the caller gives up retrying, it is the 409 of any other race."""


class PreconditionFailed(FolioError):
    status, code = 412, "version_mismatch"


class PayloadTooLarge(FolioError):
    status, code = 413, "too_large"


class UnsupportedMediaType(FolioError):
    status, code = 415, "unsupported_media_type"


class QuotaExceeded(FolioError):
    status, code = 422, "quota_exceeded"


class ShareLimitReached(FolioError):
    status, code = 422, "share_limit_reached"


class IdempotencyKeyReused(FolioError):
    status, code = 422, "idempotency_key_reused"


class PreconditionRequired(FolioError):
    status, code = 428, "if_match_required"


class ServiceUnavailable(FolioError):
    """A part of the platform this environment does not run (search without a domain)."""

    status, code = 503, "unavailable"


class Throttled(FolioError):
    """DynamoDB refused the request for capacity after the SDK's own retries."""

    status, code = 429, "throttled"
