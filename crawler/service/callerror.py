"""A call the service cannot answer, and the HTTP status of each of its error names."""

from __future__ import annotations

from crawler import errors

#: Our error names, and the HTTP status of a call that ends with one.
STATUS_OF = {"bad_request": 400, "unauthorized": 401, "blocked_address": 403, errors.ROBOTS: 403,
             "not_found": 404, "call_timeout": 408, "conflict": 409, "limit": 413, "rate_limited": 429,
             "unavailable": 501, "busy": 503}
FETCH_ERROR_STATUS = 502  # the site failed (dns, connect, tls, timeout, too_large, content, http...)


class CallError(Exception):
    """A call that cannot be answered: ``name`` (our error name), ``reason`` (one line)."""

    def __init__(self, name: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.status = status if status is not None else STATUS_OF.get(name, FETCH_ERROR_STATUS)
        self.retry_after: float | None = None


__all__ = ["FETCH_ERROR_STATUS", "STATUS_OF", "CallError"]
