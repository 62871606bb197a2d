"""Domain exceptions: bare classes, mapped to RFC 9457 problem+json at the edge.

Adapters raise these (``raise PartnerError(...) from exc``) so that the core never
sees a partner's own error types. ``govbus.http`` is the one place that maps them to
HTTP statuses.
"""


class GovbusError(Exception):
    """Base of every domain error."""


# --- caller errors -------------------------------------------------------------


class InvalidRequest(GovbusError):
    """The request cannot be read (bad JSON, wrong shape)."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class ValidationFailed(InvalidRequest):
    """The request is readable but breaks a rule of the domain (a field fails a check)."""


class NotFound(GovbusError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class Conflict(GovbusError):
    """The request conflicts with the current state (lost race, reused key, bad transition)."""


class PreconditionFailed(Conflict):
    """The caller's ``If-Match`` names a version that is no longer the current one."""


class PayloadTooLarge(GovbusError):
    """The body is over the limit."""


class UnsupportedMediaType(GovbusError):
    """The body's Content-Type is not one the route reads (a form or text sent to a JSON route)."""


class Unauthenticated(GovbusError):
    """No identity, or one that cannot be trusted (bad signature, stale timestamp)."""


class SignatureInvalid(Unauthenticated):
    """A signature over the raw bytes does not verify."""


class StaleTimestamp(Unauthenticated):
    """A signed timestamp is outside the accepted window."""


class ReplayedDelivery(Unauthenticated):
    """A delivery id was already seen with a valid signature."""


class Forbidden(GovbusError):
    """The caller is known but not entitled to this."""


# --- partner errors ------------------------------------------------------------


class PartnerError(GovbusError):
    """The partner answered with an error it means (a refusal): retrying will not help."""

    def __init__(self, detail: str, *, partner: str | None = None, code: str | None = None):
        super().__init__(detail)
        self.partner = partner
        self.code = code


class CardUnusable(PartnerError):
    """The citizen card is lost (挂失), frozen (冻结) or cancelled (注销): it cannot pay."""


class InsufficientBalance(PartnerError):
    """The card account's balance is below the amount to pay."""


class RetryableError(GovbusError):
    """Something that may succeed later: the dispatcher retries these."""


class PartnerUnavailable(RetryableError):
    """The partner is down or answered 5xx / malformed."""


class PartnerTimeout(RetryableError):
    """The partner did not answer within the timeout."""


class CircuitOpen(RetryableError):
    """The circuit breaker for the partner is open: the call was not attempted."""


class AdapterNotFound(NotFound):
    """No loaded adapter has that name."""
