"""The sandbox's receipts, posted over HTTP to a loopback receiver as SendGrid and Twilio post theirs:
the events' shapes, real signatures (checked by the webhooks' own checks and by the vendors' SDKs),
batching, the delay, retries, and the duplicate and reorder faults.

These unit tests speak HTTP to 127.0.0.1, to a server each test starts on a free port and stops: the
module's `_no_network` lets a connection to 127.0.0.1 through, and still refuses any other."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from notifier.errors import ConfigurationError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import EmailMessage, SmsMessage
from notifier.platform.settings import ConsumerSettings, settings_from
from notifier.providers import Delivery, Outbox, SandboxProvider
from notifier.providers.factory import sandbox_provider
from notifier.providers.sandbox import RECEIPT_BOUNCES, RECEIPT_COMPLAINT
from notifier.providers.sandbox_receipts import ReceiptFaults, ReceiptPoster
from notifier.providers.sandbox_webhooks import SANDBOX_ACCOUNT_SID
from notifier.receipts import sendgrid, twilio
from notifier.receipts.models import ReceiptKind
from notifier.receipts.sandbox_keys import SandboxKeys
from tests.unit.conftest import NetworkBlockedError

KEYS = SandboxKeys(secrets.token_hex(32))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Overrides the unit tests' own: loopback connections go through, any other is refused."""
    connect, create_connection = socket.socket.connect, socket.create_connection

    def loopback(address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise NetworkBlockedError(f"these tests talk to 127.0.0.1 only, not {address!r}")

    def connect_loopback(self: socket.socket, address: Any) -> None:
        loopback(address)
        connect(self, address)

    def create_loopback(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        loopback(address)
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect_loopback)
    monkeypatch.setattr(socket, "create_connection", create_loopback)


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def events(self) -> list[dict[str, Any]]:
        return list(json.loads(self.body))

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


class Receiver:
    """The stack's API as the vendors meet it: records each POST and answers `statuses` in turn, then
    200. `hold` keeps every answer back until it is set."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses = list(statuses or [])
        self.hold = threading.Event()
        self.hold.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                url = urlsplit(self.path)
                with receiver._arrived:
                    receiver.requests.append(
                        Received(
                            url.path,
                            parse_qs(url.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver._arrived.notify_all()
                receiver.hold.wait(5)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 5) -> list[Received]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} requests after {timeout} s, not {count}")
            return list(self.requests)

    def stop(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def posters() -> Iterator[list[ReceiptPoster]]:
    """Each poster a test makes, closed when it ends."""
    made: list[ReceiptPoster] = []
    yield made
    for poster in made:
        poster.close()


@pytest.fixture
def poster(posters, receiver):
    def make(channel: Channel = Channel.EMAIL, **options: Any) -> ReceiptPoster:
        options = {"delay_ms": 0, "backoff_seconds": 0.01, **options}
        made = ReceiptPoster(channel, receiver.url, lambda: KEYS, **options)
        posters.append(made)
        return made

    return make


def verified_sendgrid(request: Received) -> list[dict[str, Any]]:
    """The events of a SendGrid POST, once both our check and SendGrid's SDK accept its signature."""
    assert request.path == "/webhooks/sendgrid"
    assert request.headers["content-type"] == "application/json"
    signature = request.headers[sendgrid.SIGNATURE_HEADER.lower()]
    timestamp = request.headers[sendgrid.TIMESTAMP_HEADER.lower()]
    assert abs(int(timestamp) - time.time()) < 5
    public = KEYS.sendgrid_verification_key()
    key = sendgrid.load_verification_key(public)
    sendgrid.verify(request.body, signature, timestamp, key, max_age_seconds=300)
    assert EventWebhook(public).verify_signature(request.body.decode(), signature, timestamp)
    return request.events()


def verified_twilio(receiver: Receiver, request: Received) -> dict[str, str]:
    """The form of a Twilio callback, once both our check and Twilio's SDK accept its signature."""
    assert request.path == "/webhooks/twilio"
    assert request.headers["content-type"] == twilio.FORM_MEDIA_TYPE
    [notification_id] = request.query["notification_id"]
    url = f"{receiver.url}/webhooks/twilio?notification_id={notification_id}"
    form = request.form()
    signature = request.headers[twilio.SIGNATURE_HEADER.lower()]
    twilio.verify(url, form, signature, None, KEYS.twilio_token)
    single = {name: values[0] for name, values in form.items()}
    assert RequestValidator(KEYS.twilio_token).validate(url, single, signature)
    return single


# ---------------------------------------------------------------------------------------- e-mail


def test_a_delivered_email_gets_one_signed_sendgrid_event_shaped_as_sendgrid_sends_it(poster, receiver):
    before = int(time.time())

    poster().post_later("n-1", "ana@example.com", "sandbox-abc")

    [request] = receiver.wait_for(1)
    [event] = verified_sendgrid(request)
    assert set(event) == {
        "email",
        "timestamp",
        "smtp-id",
        "event",
        "sg_event_id",
        "sg_message_id",
        "notification_id",
        "response",
    }
    assert (event["event"], event["email"], event["notification_id"]) == (
        "delivered",
        "ana@example.com",
        "n-1",
    )
    assert isinstance(event["timestamp"], int)
    assert before <= event["timestamp"] <= time.time()
    assert event["sg_message_id"].startswith("sandbox-abc.filter")
    assert event["response"].startswith("250 ")
    [receipt] = sendgrid.parse(request.body).receipts
    assert (receipt.kind, receipt.notification_id, receipt.provider_message_id) == (
        ReceiptKind.DELIVERED,
        "n-1",
        "sandbox-abc",
    )


def test_each_sendgrid_event_has_its_own_event_id(poster, receiver):
    sending = poster(delay_ms=200)
    for index in range(3):
        sending.post_later(f"n-{index}", "ana@example.com", f"sandbox-{index}")

    [request] = receiver.wait_for(1)

    ids = [event["sg_event_id"] for event in verified_sendgrid(request)]
    assert len(set(ids)) == 3
    assert all(identifier.replace("-", "").replace("_", "").isalnum() for identifier in ids)


def test_the_reserved_bounce_address_gets_a_hard_bounce_that_suppresses_it(poster, receiver):
    poster().post_later("n-1", RECEIPT_BOUNCES[Channel.EMAIL], "sandbox-abc")

    [event] = verified_sendgrid(receiver.wait_for(1)[0])

    assert (event["event"], event["type"], event["status"]) == ("bounce", "bounce", "5.1.1")
    assert event["reason"] == "550 5.1.1 The email account that you tried to reach does not exist"
    [receipt] = sendgrid.parse(json.dumps([event])).receipts
    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)


def test_the_reserved_complaint_address_is_delivered_then_reported_as_spam(poster, receiver):
    poster(delay_ms=300).post_later("n-1", RECEIPT_COMPLAINT, "sandbox-abc")

    first, second = receiver.wait_for(2)

    [delivered], [complaint] = verified_sendgrid(first), verified_sendgrid(second)
    assert (delivered["event"], complaint["event"]) == ("delivered", "spamreport")
    assert second.at - first.at >= 0.2  # one delay later
    assert "smtp-id" not in complaint  # an engagement event, as SendGrid sends it
    [receipt] = sendgrid.parse(second.body).receipts
    assert (receipt.kind, receipt.suppress, receipt.notification_id) == (ReceiptKind.COMPLAINED, True, "n-1")


def test_events_due_together_go_in_one_signed_post(poster, receiver):
    sending = poster(delay_ms=200)
    for index in range(5):
        sending.post_later(f"n-{index}", f"user-{index}@example.com", f"sandbox-{index}")

    [request] = receiver.wait_for(1)
    time.sleep(0.1)

    assert len(receiver.requests) == 1
    assert [e["notification_id"] for e in verified_sendgrid(request)] == [f"n-{i}" for i in range(5)]


def test_a_batch_larger_than_the_limit_is_split_into_several_posts(poster, receiver):
    sending = poster(delay_ms=200, batch_limit=2)
    for index in range(5):
        sending.post_later(f"n-{index}", "ana@example.com", f"sandbox-{index}")

    requests = receiver.wait_for(3)

    assert [len(verified_sendgrid(r)) for r in requests] == [2, 2, 1]


# ---------------------------------------------------------------------------------------- SMS


def test_a_delivered_sms_gets_a_signed_twilio_status_callback(poster, receiver):
    poster(Channel.SMS).post_later("n-1", "+14155550100", "sandbox-abc")

    [request] = receiver.wait_for(1)

    form = verified_twilio(receiver, request)
    assert form == {
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": "sandbox-abc",
        "MessageStatus": "delivered",
        "SmsSid": "sandbox-abc",
        "SmsStatus": "delivered",
        "To": "+14155550100",
    }
    assert SANDBOX_ACCOUNT_SID.startswith("AC")
    assert len(SANDBOX_ACCOUNT_SID) == 34
    int(SANDBOX_ACCOUNT_SID[2:], 16)
    receipt = twilio.parse(request.form(), "n-1")
    assert receipt is not None
    assert receipt.kind is ReceiptKind.DELIVERED


def test_the_reserved_unreachable_number_is_undelivered_with_error_30005(poster, receiver):
    poster(Channel.SMS).post_later("n-1", RECEIPT_BOUNCES[Channel.SMS], "sandbox-abc")

    [request] = receiver.wait_for(1)

    form = verified_twilio(receiver, request)
    assert (form["MessageStatus"], form["ErrorCode"]) == ("undelivered", "30005")
    receipt = twilio.parse(request.form(), "n-1")
    assert receipt is not None
    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)


def test_each_sms_gets_its_own_callback(poster, receiver):
    sending = poster(Channel.SMS, delay_ms=100)
    sending.post_later("n-1", "+14155550101", "sandbox-1")
    sending.post_later("n-2", "+14155550102", "sandbox-2")

    requests = receiver.wait_for(2)

    assert sorted(r.query["notification_id"][0] for r in requests) == ["n-1", "n-2"]
    assert all(verified_twilio(receiver, r) for r in requests)


# ---------------------------------------------------------------------------------------- timing


def test_a_receipt_is_posted_after_the_delay(poster, receiver):
    started = time.monotonic()

    poster(delay_ms=300).post_later("n-1", "ana@example.com", "sandbox-abc")

    [request] = receiver.wait_for(1)
    assert request.at - started >= 0.3


def test_queueing_a_receipt_never_waits_for_the_api_even_without_a_delay(poster, receiver):
    receiver.hold.clear()  # the API takes the request and does not answer
    sending = poster(Channel.SMS)

    started = time.monotonic()
    sending.post_later("n-1", "+14155550100", "sandbox-abc")
    sending.post_later("n-2", "+14155550100", "sandbox-def")
    queued = time.monotonic() - started

    receiver.wait_for(1)
    assert queued < 1  # the API holds its first answer for 5 s
    receiver.hold.set()
    receiver.wait_for(2)


def test_close_stops_the_thread_and_drops_what_is_not_yet_due(poster, receiver):
    sending = poster(delay_ms=60_000)
    sending.post_later("n-1", "ana@example.com", "sandbox-abc")
    thread = sending._thread

    sending.close()
    sending.post_later("n-2", "ana@example.com", "sandbox-def")

    assert thread is not None
    assert not thread.is_alive()
    assert receiver.requests == []


# ---------------------------------------------------------------------------------------- failures


def test_a_post_answered_500_is_tried_again_and_signed_anew(poster, receiver):
    receiver.statuses = [500, 503]

    poster(attempts=4, backoff_seconds=0.1).post_later("n-1", "ana@example.com", "sandbox-abc")

    requests = receiver.wait_for(3)
    assert [verified_sendgrid(r)[0]["sg_event_id"] for r in requests] == [
        requests[0].events()[0]["sg_event_id"]
    ] * 3
    assert requests[1].at - requests[0].at >= 0.1
    assert requests[2].at - requests[1].at >= 0.2  # the backoff doubles


def test_a_post_refused_401_is_not_tried_again(poster, receiver):
    """The webhooks refuse a signature (or a request played back) for good: the same bytes again
    cannot pass."""
    receiver.statuses = [401]

    poster(attempts=4, backoff_seconds=0.05).post_later("n-1", "ana@example.com", "sandbox-abc")

    assert len(receiver.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_the_receipt_is_dropped_and_logged_without_the_address(
    poster, receiver, caplog
):
    receiver.statuses = [500] * 10
    address = "ana@example.com"

    poster(attempts=3).post_later("n-1", address, "sandbox-abc")

    receiver.wait_for(3)
    deadline = time.monotonic() + 5
    while not any("dropped" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(receiver.requests) == 3
    [dropped] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped.levelname == "ERROR"
    assert dropped.notification_ids == ["n-1"]  # type: ignore[attr-defined]
    assert all(address not in json.dumps(vars(r), default=str) for r in caplog.records)


def test_an_api_that_cannot_be_reached_is_retried_then_given_up(posters, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    sending = ReceiptPoster(Channel.SMS, url, lambda: KEYS, delay_ms=0, attempts=2, backoff_seconds=0.01)
    posters.append(sending)

    sending.post_later("n-1", "+14155550100", "sandbox-abc")

    deadline = time.monotonic() + 5
    while not any("dropped" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    retried = [r for r in caplog.records if "trying again" in r.getMessage()]
    assert len(retried) == 1
    assert "not answered" in retried[0].problem


def test_a_secret_that_cannot_be_read_drops_the_receipt_and_not_the_send(posters, receiver, caplog):
    def unreadable() -> SandboxKeys:
        raise ConfigurationError("cannot read credentials 'sandbox' from secretsmanager: denied")

    sending = ReceiptPoster(Channel.EMAIL, receiver.url, unreadable, delay_ms=0)
    posters.append(sending)
    sandbox = SandboxProvider(Channel.EMAIL, Outbox(), receipts=sending)

    message_id = sandbox.send(email("ana@example.com"))

    assert message_id.startswith("sandbox-")
    assert any("secret cannot be read" in r.getMessage() for r in caplog.records)
    time.sleep(0.1)
    assert receiver.requests == []


# ---------------------------------------------------------------------------------------- faults


def test_a_duplicated_receipt_comes_again_in_a_later_post_with_the_same_event_id(poster, receiver):
    poster(faults=ReceiptFaults(duplicate_rate=1, seed=1)).post_later("n-1", "ana@example.com", "sandbox-abc")

    first, second = receiver.wait_for(2)

    assert verified_sendgrid(first) == verified_sendgrid(second)


def test_a_duplicated_twilio_callback_is_posted_twice_alike(poster, receiver):
    poster(Channel.SMS, faults=ReceiptFaults(duplicate_rate=1, seed=1)).post_later(
        "n-1", "+14155550100", "sandbox-abc"
    )

    first, second = receiver.wait_for(2)

    assert verified_twilio(receiver, first) == verified_twilio(receiver, second)
    time.sleep(0.3)
    assert len(receiver.requests) == 2  # a copy is not copied again


def test_reordering_shuffles_a_due_batch_and_posts_a_stale_deferral_after_each_delivery(poster, receiver):
    sending = poster(delay_ms=200, faults=ReceiptFaults(reorder_rate=1, seed=3))
    for index in range(6):
        sending.post_later(f"n-{index}", "ana@example.com", f"sandbox-{index}")

    batch, stale = receiver.wait_for(2)

    delivered = verified_sendgrid(batch)
    assert sorted(e["notification_id"] for e in delivered) == [f"n-{i}" for i in range(6)]
    assert [e["notification_id"] for e in delivered] != [f"n-{i}" for i in range(6)]
    deferred = {e["notification_id"]: e for e in verified_sendgrid(stale)}
    for event in delivered:
        late = deferred[event["notification_id"]]
        assert late["event"] == "deferred"
        assert late["timestamp"] < event["timestamp"]
        assert late["sg_message_id"] == event["sg_message_id"]
        assert late["sg_event_id"] != event["sg_event_id"]
    [receipt, *_] = sendgrid.parse(stale.body).receipts
    assert receipt.kind is ReceiptKind.DEFERRED


def test_reordering_posts_a_stale_twilio_sent_after_delivered(poster, receiver):
    poster(Channel.SMS, faults=ReceiptFaults(reorder_rate=1, seed=3)).post_later(
        "n-1", "+14155550100", "sandbox-abc"
    )

    first, second = receiver.wait_for(2)

    assert (
        verified_twilio(receiver, first)["MessageStatus"],
        verified_twilio(receiver, second)["MessageStatus"],
    ) == (
        "delivered",
        "sent",
    )
    assert twilio.parse(second.form(), "n-1") is None  # a stale status changes nothing


def test_the_same_seed_injects_the_same_faults(posters):
    def drawn(seed: int) -> list[bool]:
        sending = ReceiptPoster(
            Channel.EMAIL, "http://127.0.0.1:1", lambda: KEYS, faults=ReceiptFaults(0.5, 0.5, seed)
        )
        posters.append(sending)
        return [sending._random.random() < 0.5 for _ in range(20)]

    assert drawn(7) == drawn(7)


# ---------------------------------------------------------------------------------------- the provider


def email(address: str) -> Delivery:
    return Delivery("n-1", address, EmailMessage(subject="Hi", text="hello"), Priority.STANDARD)


def test_a_sandbox_send_posts_the_receipt_of_the_message_id_it_returns(posters, receiver):
    sending = ReceiptPoster(Channel.SMS, receiver.url, lambda: KEYS, delay_ms=0)
    posters.append(sending)
    sandbox = SandboxProvider(Channel.SMS, Outbox(), receipts=sending)

    message_id = sandbox.send(Delivery("n-7", "+14155550100", SmsMessage(text="hi"), Priority.CRITICAL))

    [request] = receiver.wait_for(1)
    form = verified_twilio(receiver, request)
    assert (form["MessageSid"], request.query["notification_id"]) == (message_id, ["n-7"])


def test_closing_the_provider_stops_its_poster(posters, receiver):
    sending = ReceiptPoster(Channel.EMAIL, receiver.url, lambda: KEYS, delay_ms=60_000)
    posters.append(sending)
    sandbox = SandboxProvider(Channel.EMAIL, Outbox(), receipts=sending)
    sandbox.send(email("ana@example.com"))

    sandbox.close()

    assert sending._thread is not None
    assert not sending._thread.is_alive()


def test_the_reserved_addresses_refused_by_the_send_get_no_receipt(posters, receiver):
    sending = ReceiptPoster(Channel.EMAIL, receiver.url, lambda: KEYS, delay_ms=0)
    posters.append(sending)
    sandbox = SandboxProvider(Channel.EMAIL, Outbox(), receipts=sending)

    results = sandbox.send_batch([email("bounce@simulator.sandbox"), email("throttle@simulator.sandbox")])

    assert [type(r).__name__ for r in results] == ["PermanentDeliveryError", "TransientDeliveryError"]
    time.sleep(0.1)
    assert receiver.requests == []


SETTINGS = {
    "STATUS_TABLE": "status",
    "PUBLIC_API_URL": "https://notify.example.com",
    "SANDBOX_RECEIPTS_SECRET": "notifier-SandboxReceiptsSecret",
    "SANDBOX_RECEIPT_DELAY_MS": "250",
}


@pytest.mark.parametrize(
    ("channel", "environment", "posts"),
    [
        (Channel.EMAIL, SETTINGS, True),
        (Channel.SMS, SETTINGS, True),
        (Channel.PUSH, SETTINGS, False),
        (Channel.EMAIL, {**SETTINGS, "PUBLIC_API_URL": ""}, False),
        (Channel.SMS, {**SETTINGS, "SANDBOX_RECEIPTS_SECRET": ""}, False),
    ],
)
def test_the_sandbox_posts_receipts_on_email_and_sms_when_the_stack_names_the_api_and_the_secret(
    channel, environment, posts
):
    sandbox = sandbox_provider(channel, settings_from(environment, ConsumerSettings), Outbox())
    try:
        assert (sandbox.receipts is not None) is posts
        if sandbox.receipts is not None:
            assert (sandbox.receipts.base_url, sandbox.receipts.delay_seconds) == (
                "https://notify.example.com",
                0.25,
            )
    finally:
        sandbox.close()
