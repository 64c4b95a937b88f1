"""The sandbox's delivery receipts: signed and posted to the stack's own webhook routes, as SendGrid and
Twilio post theirs.

A vendor says what became of a message some time after it accepted it: SendGrid POSTs its Event
Webhook a JSON array of events, signed with ECDSA (`notifier.receipts.sendgrid`); Twilio POSTs one
form per status to the message's StatusCallback, signed with HMAC (`notifier.receipts.twilio`). The
sandbox does the same, `SANDBOX_RECEIPT_DELAY_MS` after each send, to `{PUBLIC_API_URL}/webhooks/...`,
signed with the keys derived from the stack's sandbox secret (`notifier.receipts.sandbox_keys`). So a
stack without vendor accounts runs the whole path a receipt takes (signature, de-duplication, status,
suppression list) the way it runs with the vendors.

Which receipts (the reserved addresses are `notifier.providers.sandbox`'s; each receipt is built as its
vendor shapes it in `notifier.providers.sandbox_webhooks`; push has no vendor receipt):

| channel | address | receipts |
|---|---|---|
| email | `bounced@simulator.sandbox` | `bounce` (type bounce, 5.1.1): BOUNCED, and the address suppressed |
| email | `complaint@simulator.sandbox` | `delivered`, then `spamreport` one delay later: suppressed |
| email | any other | `delivered` |
| sms | `+15005550305` | `undelivered` with ErrorCode 30005 (unknown handset): BOUNCED, suppressed |
| sms | any other | `delivered` |

How they travel. `ReceiptPoster.post_later` only queues: one daemon thread per poster, started by the
first receipt, posts them when due, so a consumer never waits on the API (even with no delay). The
SendGrid events due together go in one signed POST, up to `BATCH_LIMIT`, as SendGrid batches them; a
Twilio callback is one POST per message. An answer other than 2xx, or none, is tried again with
doubling backoff, as the vendors retry; after the last attempt the receipts are dropped with an error
line (which names notifications, never addresses). In Lambda an execution environment is frozen
between invocations: a receipt that falls due then is posted when the environment next runs.

The signing keys are read through `notifier.runtime.sandbox_secret_source()` when a receipt is queued,
not at import or cold start: the first send reads the secret, later ones its cache. A secret that
cannot be read is logged and the receipt dropped; the send itself has succeeded, and stays so.

Faults, for `make chaos` (`ReceiptFaults`, drawn from a seeded generator): a share of receipts posted
twice (the copy in a later POST, as SendGrid repeats events), and a share of due batches posted in a
shuffled order, with a stale event (a `deferred`, or Twilio's `sent`) posted after a `delivered`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from urllib.parse import urlencode

from notifier.models.channels import Channel
from notifier.platform.clients import execute_api_address
from notifier.platform.logs import logger
from notifier.providers.sandbox_webhooks import VendorEvent, stale_event, vendor_events
from notifier.receipts import sendgrid, twilio
from notifier.receipts.sandbox_keys import SandboxKeys, sign_sendgrid

RECEIPT_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})
"""The channels whose vendors send receipts."""

BATCH_LIMIT = 500
"""Most SendGrid events in one POST (SendGrid posts up to 768 KB, a few hundred events)."""
BATCH_WINDOW_SECONDS = 0.1
"""Receipts falling due this close together go out together."""
REPEAT_AFTER_SECONDS = 0.2
"""How long after the original a duplicated or stale receipt (a fault) is posted: in a later POST."""


@dataclass(frozen=True)
class ReceiptFaults:
    """Faults the poster injects, as rates from 0 to 1 (see the module's doc)."""

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    seed: int | None = None


@dataclass
class _Post:
    """One request: a SendGrid batch or a Twilio callback, and how many times it has been tried."""

    events: list[VendorEvent]
    attempt: int = 1


@dataclass(order=True)
class _Due:
    at: float
    order: int
    item: VendorEvent | _Post = field(compare=False)


class _NotAcceptedError(Exception):
    """The API answered other than 2xx, or not at all."""


class _RefusedError(_NotAcceptedError):
    """The API refused the signature (401): posting the same request again cannot help."""


class ReceiptPoster:
    """Posts one channel's sandbox receipts, signed as its vendor signs them, to the API at `base_url`.

    `keys` reads the signing keys (`secret_keys`); `delay_ms` is how long after a send its receipt is
    due; `attempts` counts the first POST, each retry waits `backoff_seconds` doubled per attempt.
    """

    def __init__(
        self,
        channel: Channel,
        base_url: str,
        keys: Callable[[], SandboxKeys],
        *,
        delay_ms: int = 1000,
        faults: ReceiptFaults | None = None,
        timeout_seconds: float = 5.0,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        batch_limit: int = BATCH_LIMIT,
    ) -> None:
        if channel not in RECEIPT_CHANNELS:
            raise ValueError(f"{channel} has no vendor receipts")
        self.channel = channel
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.delay_seconds = delay_ms / 1000
        self.faults = faults or ReceiptFaults()
        self.timeout_seconds = timeout_seconds
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.batch_limit = max(1, batch_limit)
        self._random = random.Random(self.faults.seed)  # noqa: S311 - injected faults, not secrets
        self._queue: list[_Due] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._signing: SandboxKeys | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ the sending side

    def post_later(self, notification_id: str, address: str, message_id: str) -> None:
        """Queue the receipts of a message the sandbox accepted; they are posted when due, from the
        poster's thread. Never raises: a receipt that cannot be signed is logged and dropped."""
        try:
            signing = self.keys()
        except Exception:
            logger.exception(
                "the sandbox's receipts secret cannot be read; this message's receipt is dropped",
                extra={"notification_id": notification_id, "channel": self.channel.value},
            )
            return
        now = time.monotonic()
        due = now + self.delay_seconds
        events = vendor_events(
            self.channel,
            notification_id,
            address,
            message_id,
            at=time.time() + self.delay_seconds,
            delay_seconds=self.delay_seconds,
        )
        with self._wake:
            if self._closed:
                return
            self._signing = signing
            for index, event in enumerate(events):
                # A complaint comes after the delivery it complains about: one delay later.
                self._push(due + index * self.delay_seconds, event)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"sandbox-receipts-{self.channel.value}", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Stop the thread; receipts not yet posted are dropped, as an environment shut down drops them."""
        with self._wake:
            self._closed = True
            dropped = sum(isinstance(d.item, VendorEvent) for d in self._queue)
            self._queue.clear()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout_seconds + 1)
        if dropped:
            logger.debug("sandbox receipts dropped at close", extra={"receipts": dropped})

    def _push(self, at: float, item: VendorEvent | _Post) -> None:
        heapq.heappush(self._queue, _Due(at, next(self._order), item))

    # ------------------------------------------------------------------ the poster's thread

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._due_now():
                    self._wake.wait(self._queue[0].at - time.monotonic() if self._queue else None)
                if self._closed:
                    return
                horizon = time.monotonic() + BATCH_WINDOW_SECONDS
                taken = []
                while self._queue and self._queue[0].at <= horizon:
                    taken.append(heapq.heappop(self._queue).item)
                signing = self._signing
            try:
                if signing is not None:
                    self._post_due(taken, signing)
            except Exception:  # the thread outlives anything one round does
                logger.exception("sandbox receipts could not be posted; they are dropped")

    def _due_now(self) -> bool:
        return bool(self._queue) and self._queue[0].at <= time.monotonic()

    def _post_due(self, taken: list[VendorEvent | _Post], signing: SandboxKeys) -> None:
        events = [item for item in taken if isinstance(item, VendorEvent)]
        posts = [item for item in taken if isinstance(item, _Post)]
        events = self._with_faults(events)
        if self.channel is Channel.EMAIL:
            posts += [
                _Post(events[start : start + self.batch_limit])
                for start in range(0, len(events), self.batch_limit)
            ]
        else:
            posts += [_Post([event]) for event in events]
        for post in posts:
            if self._closed:
                return
            self._try(post, signing)

    def _with_faults(self, events: list[VendorEvent]) -> list[VendorEvent]:
        """`events` in the order they are posted; duplicates and stale events queued for later."""
        faults = self.faults
        if not (faults.duplicate_rate or faults.reorder_rate):
            return events
        later: list[VendorEvent] = []
        for event in events:
            if event.repeat:
                continue
            if self._random.random() < faults.duplicate_rate:
                later.append(replace(event, repeat=True))
            if event.name == "delivered" and self._random.random() < faults.reorder_rate:
                later.append(stale_event(self.channel, event))
        if len(events) > 1 and self._random.random() < faults.reorder_rate:
            events = list(events)
            self._random.shuffle(events)
        if later:
            with self._wake:
                for event in later:
                    self._push(time.monotonic() + REPEAT_AFTER_SECONDS, event)
                self._wake.notify()
        return events

    def _try(self, post: _Post, signing: SandboxKeys) -> None:
        ids = sorted({event.notification_id for event in post.events})
        described = {
            "channel": self.channel.value,
            "receipts": [event.name for event in post.events][:20],
            "notification_ids": ids[:20],
            "attempt": post.attempt,
        }
        try:
            self._send(post, signing)
        except _RefusedError as exc:
            if all(event.repeat for event in post.events):
                # A repeated Twilio callback is the same signed request again: refused as a replay.
                logger.debug("a repeated sandbox receipt was refused as a replay", extra=described)
            else:
                logger.error("sandbox receipts refused by the API", extra={**described, "problem": str(exc)})
            return
        except _NotAcceptedError as exc:
            if post.attempt >= self.attempts:
                logger.error(
                    "sandbox receipts not accepted by the API after the last attempt; dropped",
                    extra={**described, "problem": str(exc)},
                )
                return
            wait = self.backoff_seconds * 2 ** (post.attempt - 1)
            logger.warning(
                "sandbox receipts not accepted by the API; trying again",
                extra={**described, "problem": str(exc), "retry_in_seconds": wait},
            )
            with self._wake:
                if not self._closed:
                    self._push(time.monotonic() + wait, _Post(post.events, post.attempt + 1))
                    self._wake.notify()
            return
        logger.debug("sandbox receipts posted", extra=described)

    def _send(self, post: _Post, signing: SandboxKeys) -> None:
        if self.channel is Channel.EMAIL:
            url = f"{self.base_url}/webhooks/sendgrid"
            body = json.dumps([event.fields for event in post.events], separators=(",", ":")).encode()
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "SendGrid Event API",
                sendgrid.TIMESTAMP_HEADER: timestamp,
                sendgrid.SIGNATURE_HEADER: sign_sendgrid(signing.sendgrid_private_key(), timestamp, body),
            }
        else:
            [event] = post.events
            url = f"{self.base_url}/webhooks/twilio?{urlencode({'notification_id': event.notification_id})}"
            form = {name: [str(value)] for name, value in event.fields.items()}
            body = urlencode(event.fields).encode()
            headers = {
                "Content-Type": twilio.FORM_MEDIA_TYPE,
                "User-Agent": "TwilioProxy/1.1",
                twilio.SIGNATURE_HEADER: twilio.signature(signing.twilio_token, url, form),
            }
        request = urllib.request.Request(execute_api_address(url), data=body, headers=headers, method="POST")  # noqa: S310 - PUBLIC_API_URL: http(s) only (settings)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310 - as above
                answer.read()
                status = int(answer.status)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == HTTPStatus.UNAUTHORIZED:  # the same bytes would be refused again
                raise _RefusedError(f"answered {error.code}") from None
            raise _NotAcceptedError(f"answered {error.code}") from None
        except OSError as exc:  # refused, reset, timed out, no such host
            raise _NotAcceptedError(f"not answered: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise _NotAcceptedError(f"answered {status}")


def secret_keys(secret_name: str) -> Callable[[], SandboxKeys]:
    """The sandbox's signing keys, derived from the secret `secret_name` in Secrets Manager, read
    through the runtime's cache of it (`notifier.runtime.sandbox_secret_source`) at each call."""

    def read() -> SandboxKeys:
        from notifier import runtime  # noqa: PLC0415 - the runtime builds the providers: imported on use

        secret = runtime.sandbox_secret_source().text(secret_name)
        return SandboxKeys(secret.decode() if isinstance(secret, bytes) else secret)

    return read
