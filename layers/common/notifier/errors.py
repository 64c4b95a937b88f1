"""Domain errors. Each is a type; the API maps them to answers in one table, the consumers by type."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifier.models.responses import BulkNotPublished


class NotifierError(Exception):
    """Base of every error this service raises on purpose."""


class NotFoundError(NotifierError):
    """The thing asked for does not exist."""


class ConfigurationError(RuntimeError):
    """The environment does not describe a working function."""


class InvalidRequestError(NotifierError):
    """The request is well formed but cannot be carried out as sent; nothing was published."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems.items()))
        self.problems = problems
        """Each field at fault, and why."""


class InvalidBodyError(InvalidRequestError):
    """The body is JSON, but not JSON this API accepts: the field (or `body`) and why."""


class PayloadTooLargeError(InvalidRequestError):
    """The body is larger than the API accepts; it was not read."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__({"body": f"larger than {limit} bytes"})
        self.message = f"the request body is {size} bytes; at most {limit} are accepted"

    def __str__(self) -> str:
        return self.message


class UnsupportedMediaTypeError(InvalidRequestError):
    """The body is not of the route's media type (`application/json` in UTF-8, but for a vendor's
    webhook that posts a form)."""

    def __init__(self, content_type: str, expected: str = "application/json") -> None:
        super().__init__({"Content-Type": f"{content_type!r} is not {expected}"})


class UnauthorizedError(NotifierError):
    """A request whose credentials (a vendor's signature, an inbox token or API key) are missing, wrong
    or too old; nothing was read."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems.items()))
        self.problems = problems
        """Each header at fault, and why."""


class ForbiddenError(NotifierError):
    """The caller is known, and may not do this: an inbox token used on another recipient's inbox."""


class PublishError(NotifierError):
    """SNS did not take the message; the caller may retry."""


class DeliveryError(NotifierError):
    """A channel could not deliver a notification."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """Try again later: a timeout, a rate limit, a vendor outage."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class ProviderUnavailableError(TransientDeliveryError):
    """The provider, not the message: an outage (its 5xx, a refused connection, a timeout), a quota it
    will not lift soon, or the account's credentials or standing. Another provider may send it now,
    and it counts against the provider's circuit breaker.

    `maybe_sent`: the provider may have taken the message (a read timeout, after the request was
    sent). Such a message is not handed to another provider in the same attempt, since both could
    send it; it is retried, through whichever provider the breaker then chooses."""

    def __init__(
        self, reason: str, retry_after_seconds: float | None = None, *, maybe_sent: bool = False
    ) -> None:
        super().__init__(reason, retry_after_seconds)
        self.maybe_sent = maybe_sent


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: no address, an invalid address, content the vendor rejects."""


class RouteUnavailableError(PermanentDeliveryError):
    """This provider cannot serve this message (an SMS country it is not enabled for, an SES account
    in the sandbox, a sender id not registered), though another might: handed to the fallback
    provider when there is one, FAILED when there is none. The provider itself is well: it does not
    count against its breaker."""


class UnregisteredAddressError(PermanentDeliveryError):
    """The vendor says the address no longer exists (an unregistered push token): forget it."""


class NothingPublishedError(PublishError):
    """No event of a bulk request reached SNS; `answer` says, per event, why."""

    def __init__(self, answer: BulkNotPublished) -> None:
        super().__init__(answer.message)
        self.answer = answer


class IdempotencyError(NotifierError):
    """An `Idempotency-Key` could not be honoured; nothing was published by this request."""


class IdempotencyKeyReusedError(IdempotencyError):
    """The key was first used with another request body: a different request, not a retry."""


class IdempotencyKeyInUseError(IdempotencyError):
    """The first request with this key is still being processed; its answer is not known yet."""


class IdempotencyUnavailableError(IdempotencyError):
    """The idempotency store could not be read or written; the caller may retry."""


class RecipientReadError(NotifierError):
    """DynamoDB did not return every recipient asked for, even after backing off; try again later."""


class RecipientConflictError(NotifierError):
    """The recipient kept changing under a read-modify-write; the caller may try again later."""


class RetryLater(NotifierError):  # noqa: N818 - an outcome, not a fault
    """Not a failure: what the record waits for is not there yet, and SQS's next delivery of it will
    find it (or find that it never will be)."""


class DeadLettered(Exception):  # noqa: N818 - an outcome, not a fault
    """The record is on its last receive and marked DEAD_LETTERED: failing it now moves it to the
    dead-letter queue at once, where an operator can redrive it."""
