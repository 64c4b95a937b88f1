"""`make chaos`: fault scenarios against the local stack, with the fast profile.

Each scenario starts a fresh local stack, publishes notifications across every channel and priority
through the REST API (each with an Idempotency-Key, retried with the same key on a 5xx), waits until
every one has settled (SENT, DELIVERED, BOUNCED, FAILED, SUPPRESSED or DEAD_LETTERED), the source
queues are empty and every e-mail and SMS the sandbox accepted has its receipt (the sandbox posts a
signed receipt to the webhook routes for each, `notifier.providers.sandbox_receipts`), and prints one
line:

    chaos <name>: accepted=N sent=S delivered=V bounced=B failed=F dead_lettered=D lost=L
    lost_receipts=R duplicates=X seconds=T

`lost` counts accepted notifications without a settled status when the wait ends; `lost_receipts`
the e-mails and SMS still SENT then, whose receipt never arrived (push and in-app have none: they stay SENT);
`duplicates` counts outbox deliveries beyond the first per (notification, channel): in-app items are
stored in the inbox, not the outbox, and the inbox stores each (recipient, notification) once. A few
notifications go to the sandbox's addresses whose receipt bounces or complains, so `bounced` is not
0, and the later ones to the same address are SUPPRESSED by then. Every injected crash or timeout
names the one send it cut off after the vendor took it (see `devstack.faults`), so each duplicate is
checked against them: a duplicate no fault explains is a bug. Every scenario also duplicates and
reorders receipts; `receipt_duplicates` is how many repeated receipts the webhooks recognised and
skipped. The exit code is 1 if a notification or a receipt was lost, if a duplicate is unexplained, or
if a scenario that expects no duplicates had any.

The `digests` scenario, run after those, puts digest windows (`notifier.scheduling.digests`) under
concurrency and crashed flushes. Its stack closes a window after 5 s (the fast profile) or at 8 events
(`DigestMaxEvents=8`), and `--chaos flush_crash=0.15,seed=24` has the due function crash a few
flushes after they published their digest and before they marked its window SENT
(`devstack.faulty_digests`); each is retried once the due queue's visibility timeout (60 s) has run
out, and publishes the same digest again. It registers recipients with a push device, then sends 15
LIKEs with distinct actors on each of 3 posts of 4 recipients (12 digest keys), each key's from 15
clients released together by a barrier, a key at a time, and a critical LIKE (never digested) in every
4th key's burst; each through the REST API with an Idempotency-Key, retried as above. It waits (150 s
at most once they are all in) until every event is DIGESTED on push and in-app, every digest and
critical event is sent on both, no window is open or flushing and the queues are empty, and prints:

    chaos digests: windows=W sent=S duplicates=X lost=L events=N counted=C critical=A/K
    flush_crashes=F seconds=T

`windows`: the digests the accepted LIKEs went into; `sent`: those in the sandbox's outbox on push;
`duplicates`: outbox deliveries beyond the first per (digest or critical event, channel), and every
delivery of anything else (a LIKE sent alone as well, or a digest no accepted event went into); `lost`:
the accepted LIKEs without a status or not DIGESTED, those in a digest never delivered (on push, or
SENT in the inbox), and for each digest the difference between its count (the push's data "count")
and the LIKEs that went into it; `counted`: those counts added up (= `events`); `critical`: the
critical LIKEs delivered alone, once, of those accepted; `flush_crashes`: the injected crashes (their
log lines name the digest, `[chaos] injected flush crash: digest <id> ...`); `seconds`: the whole
scenario, the stack's start included. A second line says how many crashed flushes a later flush sent
(`retried_after_a_crash`, from the due function's "digest sent" lines), the windows still open or
flushing, the requests the API refused and those sent again, and how close together each key's
requests left and were answered (the local stack runs every function in one process: on 2 cores it
answers a key's 15 or 16 requests within about 2 s, well inside the 5 s window). Its exit code is 1
unless every window was sent exactly once, no event is lost, every critical LIKE went alone, at least
one flush crashed and every crashed flush was retried until its window was SENT.

The `provider-outage` scenario, run last, takes the primary providers down. Its stack has a fallback
on both vendor channels (`EmailProviders=sendgrid,ses SmsProviders=twilio,eum BreakerFailures=5`;
the local stack's sandbox plays all four, each under its own name, `sandbox-sendgrid` ...), and
`--chaos outage=sendgrid@20-45+twilio@20-45` makes every send through the primaries fail as an
unreachable provider's would from 20 to 45 s after the stack started (`devstack.outage`): the
failover hands those messages to the fallback in the same attempt, and the primaries' circuit
breakers open. The outage is shorter than the breakers' 30 s cool-down, so their first probe finds the
primary well and closes them. It publishes 300 notifications, e-mail and SMS in turn at both
priorities, evenly over 100 s (so before, during and after the outage), each through the REST API
with an Idempotency-Key, retried as above; waits (60 s at most once they are all in) until every one
has settled and the queues are empty, and prints:

    chaos provider-outage: accepted=N sent=S failed_over=F lost=L duplicates=X primary_after=P/A
    seconds=T

`sent`: notifications SENT or DELIVERED; `failed_over`: those whose status names the fallback's
sandbox (`sandbox-ses`, `sandbox-eum`); `lost`: the others (no address the sandbox fails is used, and
no permanent failure injected, so nothing else is expected); `duplicates`: outbox deliveries beyond
the first per (notification, channel), by whichever provider; `primary_after`: of the notifications
published from 35 s after the outage ended (the cool-down and a margin), those sent through the
primary again, and all of them; `seconds`: the whole scenario, the stack's start included. A second
line splits the notifications by when they were published (before, during, after the outage, as the
stack logged it: `[chaos] outage: sendgrid down ...`) and the provider they went through, and counts
the breakers opened and closed and the primaries' outbox deliveries while they were down. Its exit
code is 1 if a notification is lost or delivered twice, if nothing failed over (the outage proved
nothing), if a primary delivered while down, or if the last notifications did not all go through the
primary (its breaker never closed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from .process import LocalStackProcess
from .stack import DEFAULT_EMULATOR, EMULATORS

SETTLED = {"SENT", "DELIVERED", "BOUNCED", "FAILED", "SUPPRESSED", "DEAD_LETTERED"}
CHANNELS = ("email", "sms", "push", "inapp")
RECEIPT_CHANNELS = ("email", "sms")
"""The channels whose vendors (and so the sandbox) send receipts."""
RECEIPT_FAILURES = {
    0: "bounced@simulator.sandbox",  # e-mail: a hard bounce
    1: "+15005550305",  # SMS: undelivered, unknown handset
    4: "complaint@simulator.sandbox",  # e-mail: delivered, then a spam report
}
"""Notification index % 60 -> an address the sandbox accepts and then fails by its receipt: the sandbox's
RECEIPT_BOUNCES and RECEIPT_COMPLAINT (notifier.providers.sandbox; not importable here, where the
layer is not on the path; tests/unit/devstack check they agree). Each index falls on its channel
(index % len(CHANNELS))."""
RECEIPT_FAULTS = "receipt_duplicate=0.1,receipt_reorder=0.1"
PRIORITIES = ("critical", "standard")
VENDOR_FAULTS = [
    "SandboxLatencyMs=50",
    "SandboxTransientFailureRate=0.2",
    "SandboxPermanentFailureRate=0.02",
]


@dataclass(frozen=True)
class Scenario:
    name: str
    overrides: list[str]
    chaos: str | None
    duplicates_allowed: bool


SCENARIOS = [
    Scenario(
        "vendor-faults",
        [*VENDOR_FAULTS, "SandboxSeed=1"],
        f"{RECEIPT_FAULTS},seed=1",
        duplicates_allowed=False,
    ),
    Scenario(
        "crashes-and-timeouts",
        [*VENDOR_FAULTS, "SandboxSeed=2"],
        f"crash=0.05,timeout=0.02,{RECEIPT_FAULTS},seed=2",
        duplicates_allowed=True,
    ),
]


@dataclass
class Result:
    name: str
    accepted: int
    statuses: Counter[str]
    lost: int
    lost_receipts: int
    receipt_duplicates: int
    duplicates: int
    unexplained: int
    seconds: float
    dead_letter_messages: int
    crashes: int
    timeouts: int
    refused: int

    def line(self) -> str:
        s = self.statuses
        return (
            f"chaos {self.name}: accepted={self.accepted} sent={s['SENT']} delivered={s['DELIVERED']} "
            f"bounced={s['BOUNCED']} failed={s['FAILED']} dead_lettered={s['DEAD_LETTERED']} "
            f"lost={self.lost} lost_receipts={self.lost_receipts} duplicates={self.duplicates} "
            f"seconds={self.seconds:.1f}"
        )


def notification(index: int) -> dict[str, Any]:
    """The `index`th notification: the channels in turn, then the priorities; an inline address on
    every channel but in-app, whose address is the recipient's inbox (the API refuses a `to`)."""
    channel = CHANNELS[index % len(CHANNELS)]
    request: dict[str, Any] = {
        "recipientId": f"chaos-{index}",
        "type": channel,
        "priority": PRIORITIES[(index // len(CHANNELS)) % len(PRIORITIES)],
        "messageBody": f"chaos notification {index}",
    }
    if channel != "inapp":
        request["to"] = (
            RECEIPT_FAILURES.get(index % 60)
            or {
                "email": f"chaos-{index}@example.com",
                "sms": f"+1415{index:07d}",
                "push": f"chaos-device-token-{index:06d}",
            }[channel]
        )
    return request


def post_idempotently(
    local: LocalStackProcess, path: str, body: dict[str, Any], id_field: str, what: str
) -> tuple[str | None, int]:
    """POST `body` with an Idempotency-Key, again with the same key on a 5xx, a 409 (the first
    attempt is still being answered) or a connection that failed (the request may or may not have been
    taken): (the id the 202 names, or None when the API refused it for good; how many times it was
    sent again)."""
    key = str(uuid.uuid4())
    status: int = 0
    answer: Any = None
    for attempt in range(6):
        try:
            status, answer = local.request("POST", path, body, headers={"Idempotency-Key": key})
        except (OSError, http.client.HTTPException) as exc:  # reset, refused, timed out
            status, answer = 0, {"connection": repr(exc)}
        if status == 202:
            return str(answer[id_field]), attempt
        if 0 < status < 500 and status != 409:
            break
        time.sleep(0.2 * 2**attempt)
    print(f"  {what} refused: {status} {answer}", file=sys.stderr)
    return None, attempt


def publish_all(local: LocalStackProcess, count: int, threads: int) -> tuple[list[str], int]:
    """Publish `count` notifications; (their ids, how many the API refused for good)."""

    def one(index: int) -> str | None:
        notification_id, _ = post_idempotently(
            local, "/api/v1/notifications/publish", notification(index), "notificationId", f"publish {index}"
        )
        return notification_id

    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(one, range(count)))
    accepted = [i for i in ids if i is not None]
    return accepted, count - len(accepted)


class Observer:
    """Reads the emulator directly: statuses, queue depths, and the outbox over the API."""

    def __init__(self, local: LocalStackProcess) -> None:
        self.local = local
        # The local stack's emulator takes any credentials.
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - not a secret: the emulator takes any
            region_name="us-east-1",
        )
        self.dynamodb = session.client("dynamodb", endpoint_url=local.endpoint)
        self.sqs = session.client("sqs", endpoint_url=local.endpoint)
        self.table = local.physical_name("StatusTable")
        self.digests_table = local.physical_name("DigestsTable")

    def statuses(self) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="notification_id, channel, #s",
            ExpressionAttributeNames={"#s": "status"},
        )
        for page in pages:
            for item in page["Items"]:
                found[(item["notification_id"]["S"], item["channel"]["S"])] = item["status"]["S"]
        return found

    def status_rows(self) -> dict[tuple[str, str], StatusRow]:
        """Every status row, with the digest a DIGESTED event went into."""
        found: dict[tuple[str, str], StatusRow] = {}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="notification_id, channel, #s, digested_into",
            ExpressionAttributeNames={"#s": "status"},
        )
        for page in pages:
            for item in page["Items"]:
                into = item.get("digested_into", {}).get("S")
                found[(item["notification_id"]["S"], item["channel"]["S"])] = StatusRow(
                    item["status"]["S"], into
                )
        return found

    def unfinished_windows(self) -> int:
        """Digest windows still OPEN or FLUSHING (a flush that crashed and is not retried yet)."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.digests_table,
            FilterExpression="begins_with(sk, :window) AND #s IN (:open, :flushing)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":window": {"S": "W#"},
                ":open": {"S": "OPEN"},
                ":flushing": {"S": "FLUSHING"},
            },
            Select="COUNT",
        )
        return sum(page["Count"] for page in pages)

    def queued(self, *, dead_letter: bool) -> int:
        total = 0
        for url in self.sqs.list_queues().get("QueueUrls", []):
            if url.endswith("DLQ") != dead_letter:
                continue
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            total += sum(int(value) for value in attributes.values())
        return total

    def provider_rows(self) -> dict[tuple[str, str], ProviderRow]:
        """Every status row, with the provider that sent it (when one did)."""
        found: dict[tuple[str, str], ProviderRow] = {}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="notification_id, channel, #s, provider",
            ExpressionAttributeNames={"#s": "status"},
        )
        for page in pages:
            for item in page["Items"]:
                found[(item["notification_id"]["S"], item["channel"]["S"])] = ProviderRow(
                    item["status"]["S"], item.get("provider", {}).get("S")
                )
        return found

    def duplicates(self) -> Counter[tuple[str, str]]:
        """Deliveries beyond the first, per (notification, channel)."""
        deliveries = Counter((e["notification_id"], e["channel"]) for e in self.local.outbox())
        return Counter({key: n - 1 for key, n in deliveries.items() if n > 1})


_UNHEARD = re.compile(r"\[chaos\] injected (crash|timeout): (\w+) (\S+) sent, not recorded")


def unheard_sends(log: str) -> Counter[tuple[str, str]]:
    """The sends an injected fault cut off before they were recorded, per (notification, channel)."""
    return Counter((m.group(3), m.group(2)) for m in _UNHEARD.finditer(log))


_RECEIPTS_ANSWERED = ("SendGrid receipts", "Twilio receipt")


def receipt_duplicates(log: str) -> int:
    """Repeated receipts the webhooks function recognised and skipped, from its log lines (JSON, one
    per request: what the request's receipts did)."""
    total = 0
    for line in log.splitlines():
        start = line.find("{")
        if start < 0 or not any(message in line for message in _RECEIPTS_ANSWERED):
            continue
        try:
            answered = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(answered, dict) and answered.get("message") in _RECEIPTS_ANSWERED:
            total += int(answered.get("duplicates", 0))
    return total


def awaiting_receipts(statuses: dict[tuple[str, str], str], published: set[str]) -> int:
    """E-mails and SMS the sandbox accepted (SENT) whose receipt has not moved them on."""
    return sum(
        1
        for (notification_id, channel), status in statuses.items()
        if notification_id in published and channel in RECEIPT_CHANNELS and status == "SENT"
    )


def wait_until(
    name: str,
    seconds: float,
    check: Callable[[], tuple[bool, str]],
    *,
    every: float = 0.5,
    report_at_once: bool = False,
) -> None:
    """Call `check` every `every` seconds until it says done, or `seconds` have passed; what it says of
    its progress goes to stderr every 10 s (and on giving up)."""
    deadline = time.monotonic() + seconds
    last_report = 0.0 if report_at_once else time.monotonic()
    while True:
        done, progress = check()
        if done:
            return
        if time.monotonic() > deadline:
            print(f"  {name}: gave up waiting after {seconds:.0f} s: {progress}", file=sys.stderr)
            return
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            print(f"  {name}: {progress}", file=sys.stderr)
        time.sleep(every)


def run(
    scenario: Scenario,
    *,
    count: int,
    threads: int,
    wait_seconds: float,
    logs: Path,
    emulator: str | None = None,
) -> Result:
    log_path = logs / f"{scenario.name}.log"
    local = LocalStackProcess(
        log_path, profile="fast", overrides=scenario.overrides, chaos=scenario.chaos, emulator=emulator
    )
    local.start()
    try:
        observer = Observer(local)
        started = time.monotonic()
        ids, refused = publish_all(local, count, threads)
        print(
            f"  {scenario.name}: {len(ids)} accepted in {time.monotonic() - started:.1f} s", file=sys.stderr
        )
        published = set(ids)
        settled: dict[tuple[str, str], str] = {}

        def check() -> tuple[bool, str]:
            statuses = observer.statuses()
            settled.clear()
            settled.update((k, v) for k, v in statuses.items() if k[0] in published and v in SETTLED)
            in_queues = observer.queued(dead_letter=False)
            awaiting = awaiting_receipts(statuses, published)
            done = len(settled) >= len(ids) and in_queues == 0 and awaiting == 0
            return done, (
                f"{len(settled)}/{len(ids)} settled, {in_queues} in the queues, "
                f"{awaiting} awaiting their receipt"
            )

        wait_until(scenario.name, started + wait_seconds - time.monotonic(), check, report_at_once=True)
        seconds = time.monotonic() - started
        log = local.log()
        duplicates = observer.duplicates()
        unheard = unheard_sends(log)
        for notification_id, channel in duplicates - unheard:
            print(f"  unexplained duplicate: {channel} {notification_id}", file=sys.stderr)
        return Result(
            name=scenario.name,
            accepted=len(ids),
            statuses=Counter(settled.values()),
            lost=len(ids) - len(settled),
            lost_receipts=awaiting_receipts(settled, published),
            receipt_duplicates=receipt_duplicates(log),
            duplicates=sum(duplicates.values()),
            unexplained=sum((duplicates - unheard).values()),
            seconds=seconds,
            dead_letter_messages=observer.queued(dead_letter=True),
            crashes=log.count("[chaos] injected crash"),
            timeouts=log.count("[chaos] injected timeout"),
            refused=refused,
        )
    finally:
        local.stop()


# ---------------------------------------------------------------------------------------------
# The digests scenario
# ---------------------------------------------------------------------------------------------

DIGEST_CHANNELS = ("push", "inapp")
"""LIKE's channels (routing_rules.json): an event is DIGESTED on both, and its digest sent on both."""
DELIVERED = {"SENT", "DELIVERED"}
"""The statuses of a push or in-app notification that reached its vendor or its inbox."""
_FLUSH_CRASH = re.compile(r"\[chaos\] injected flush crash: digest (\S+) published, not marked SENT")
"""devstack.faulty_digests.FLUSH_CRASH_TRACE (not importable here, where the layer is not on the
path; tests/unit/devstack check they agree)."""


@dataclass(frozen=True)
class DigestScenario:
    """Bursts of LIKEs: `events_per_key` on each post of each recipient (a digest key), every event of
    a key released at the same instant from as many concurrent clients, `keys_at_once` keys at a time,
    and a critical LIKE in every `critical_every`th key's burst."""

    name: str
    overrides: list[str]
    chaos: str
    recipients: int
    posts: int
    events_per_key: int
    critical_every: int
    keys_at_once: int
    wait_seconds: float
    """The longest wait for every event to settle once they are all published: enough for a crashed
    flush to come back after the due queue's visibility timeout (60 s) and be sent."""


DIGESTS = DigestScenario(
    "digests",
    # Windows of at most 8 events: 15 events of a key in one second fill one (sent at once) and
    # leave 7 in the next (sent when it closes, 5 s on in the fast profile).
    ["DigestMaxEvents=8"],
    # 0.15 with seed 24: the 7th, 16th and 23rd of the 24 flushes crash, and none of their retries.
    "flush_crash=0.15,seed=24",
    recipients=4,
    posts=3,
    events_per_key=15,
    critical_every=4,
    keys_at_once=1,
    wait_seconds=150,
)


@dataclass(frozen=True)
class StatusRow:
    status: str
    digested_into: str | None = None


def like(recipient: str, post: str, actor: str, *, critical: bool = False) -> dict[str, Any]:
    """A LIKE of `post` for `recipient` by `actor`; a critical one is never digested."""
    payload: dict[str, Any] = {
        "parent_id": post,
        "parent_type": "post",
        "timestamp": "2026-12-03T10:00:00Z",
        "actor_name": actor,
    }
    if critical:
        payload["priority"] = "critical"
    return {"user_id": recipient, "event_type": "LIKE", "payload": payload}


def digest_recipient(index: int) -> tuple[str, dict[str, Any]]:
    """The `index`th recipient and its document: one push device, no quiet hours, no opt-outs."""
    document = {
        "contacts": {"push_tokens": [{"token": f"chaos-digest-token-{index:04d}", "platform": "android"}]},
        "locale": "en",
        "timezone": "UTC",
    }
    return f"chaos-digests-{index}", document


@dataclass(frozen=True)
class Burst:
    key: int
    recipient: str
    post: str
    requests: list[tuple[dict[str, Any], bool]]
    """Each event's body, and whether it is critical."""


def digest_bursts(scenario: DigestScenario) -> list[Burst]:
    bursts = []
    for r in range(scenario.recipients):
        recipient, _ = digest_recipient(r)
        for p in range(scenario.posts):
            key = r * scenario.posts + p
            post = f"post_{p}"
            requests = [
                (like(recipient, post, f"Fan {key:02d}-{i:02d}"), False)
                for i in range(scenario.events_per_key)
            ]
            if key % scenario.critical_every == 0:
                requests.insert(
                    len(requests) // 2, (like(recipient, post, f"Star {key:02d}", critical=True), True)
                )
            bursts.append(Burst(key, recipient, post, requests))
    return bursts


@dataclass
class Published:
    events: list[str] = field(default_factory=list)
    criticals: list[str] = field(default_factory=list)
    refused: int = 0
    resent: int = 0
    """Requests sent again (a 5xx, a 409, or a connection the local API reset)."""
    sent_within: float = 0.0
    """The longest time between the first and the last request of one key's burst leaving."""
    answered_within: float = 0.0
    """The longest time between a key's burst leaving and the last answer to it."""


def publish_bursts(local: LocalStackProcess, scenario: DigestScenario) -> Published:
    """Each key's events from as many clients, released together by a barrier, `keys_at_once` keys at
    a time; each with an Idempotency-Key, retried with it on a 5xx."""
    bursts = digest_bursts(scenario)
    published = Published()
    size = scenario.keys_at_once * max(len(b.requests) for b in bursts)

    def one(
        barrier: threading.Barrier, burst: Burst, body: dict[str, Any], critical: bool
    ) -> tuple[int, str | None, bool, float, float, int]:
        barrier.wait()
        released = time.monotonic()
        what = f"LIKE for {burst.recipient} {burst.post}"
        event_id, resent = post_idempotently(local, "/event", body, "event_id", what)
        return burst.key, event_id, critical, released, time.monotonic(), resent

    with ThreadPoolExecutor(size) as pool:
        for start in range(0, len(bursts), scenario.keys_at_once):
            group = [
                (b, body, critical)
                for b in bursts[start : start + scenario.keys_at_once]
                for body, critical in b.requests
            ]
            barrier = threading.Barrier(len(group), timeout=60)
            answers = list(pool.map(one, [barrier] * len(group), *zip(*group, strict=True)))
            for key in {key for key, *_ in answers}:
                of_key = [a for a in answers if a[0] == key]
                first = min(a[3] for a in of_key)
                published.sent_within = max(published.sent_within, max(a[3] for a in of_key) - first)
                published.answered_within = max(published.answered_within, max(a[4] for a in of_key) - first)
            for _, event_id, critical, _, _, resent in answers:
                published.resent += resent
                if event_id is None:
                    published.refused += 1
                else:
                    (published.criticals if critical else published.events).append(event_id)
    return published


def unsettled_digest_events(
    events: Sequence[str], criticals: Sequence[str], statuses: Mapping[tuple[str, str], StatusRow]
) -> int:
    """The events not yet DIGESTED into a digest that is settled on every channel, and the critical
    events not yet settled on every channel."""
    unsettled = 0
    for event_id in events:
        rows = [statuses.get((event_id, channel)) for channel in DIGEST_CHANNELS]
        into = {row.digested_into if row and row.status == "DIGESTED" else None for row in rows}
        digest = into.pop() if len(into) == 1 else None
        if digest is None or not all(
            (row := statuses.get((digest, channel))) is not None and row.status in SETTLED
            for channel in DIGEST_CHANNELS
        ):
            unsettled += 1
    for event_id in criticals:
        if not all(
            (row := statuses.get((event_id, channel))) is not None and row.status in SETTLED
            for channel in DIGEST_CHANNELS
        ):
            unsettled += 1
    return unsettled


@dataclass
class DigestAccount:
    """What became of the accepted events (see `account_digests`)."""

    events: int
    criticals: int
    windows: int = 0
    sent: int = 0
    duplicates: int = 0
    lost: int = 0
    counted: int = 0
    """The delivered digests' counts, added up: the number of digested events, when nothing is lost."""
    criticals_alone: int = 0

    @property
    def clean(self) -> bool:
        return (
            self.sent == self.windows
            and not self.duplicates
            and not self.lost
            and self.counted == self.events
            and self.criticals_alone == self.criticals
        )


def account_digests(
    events: Sequence[str],
    criticals: Sequence[str],
    statuses: Mapping[tuple[str, str], StatusRow],
    outbox: Sequence[Mapping[str, Any]],
) -> DigestAccount:
    """Account for every accepted event from the status rows and the sandbox's outbox.

    - `windows`: the distinct digests the events were DIGESTED into (the same one on each channel).
    - `sent`: those of them in the outbox on push.
    - `duplicates`: outbox deliveries beyond the first per (notification, channel) of a digest or a
      critical event, and every delivery of a notification that is neither (an event sent alone as
      well as digested, or a digest no accepted event went into).
    - `lost`: an event with no status, or not DIGESTED into one digest on every channel; every event
      of a digest that never reached the outbox on push or SENT in the inbox, or whose deliveries
      disagree on the count; and, for a digest whose count (push data "count") is not the number of
      events that went into it, the difference.
    - `criticals_alone`: the critical events delivered once on push, under their own id, and settled
      as sent on both channels (never digested)."""
    account = DigestAccount(events=len(events), criticals=len(criticals))
    members: Counter[str] = Counter()
    for event_id in events:
        rows = [statuses.get((event_id, channel)) for channel in DIGEST_CHANNELS]
        into = {row.digested_into if row and row.status == "DIGESTED" else None for row in rows}
        digest = into.pop() if len(into) == 1 else None
        if digest is None:
            account.lost += 1
        else:
            members[digest] += 1
    account.windows = len(members)
    deliveries = Counter((entry["notification_id"], entry["channel"]) for entry in outbox)
    counts: dict[str, set[str]] = {}
    for entry in outbox:
        if entry["channel"] == "push":
            data = (entry.get("content") or {}).get("data") or {}
            counts.setdefault(entry["notification_id"], set()).add(str(data.get("count")))
    known = set(members) | set(criticals)
    for (notification_id, _), times in deliveries.items():
        account.duplicates += times - 1 if notification_id in known else times
    for digest, digested in members.items():
        if deliveries[(digest, "push")]:
            account.sent += 1
        inapp = statuses.get((digest, "inapp"))
        shown = counts.get(digest, set())
        if (
            not deliveries[(digest, "push")]
            or inapp is None
            or inapp.status not in DELIVERED
            or len(shown) != 1
        ):
            account.lost += digested
            continue
        [count] = shown
        if not count.isdigit():
            account.lost += digested
            continue
        account.counted += int(count)
        account.lost += abs(int(count) - digested)
    for event_id in criticals:
        rows = [statuses.get((event_id, channel)) for channel in DIGEST_CHANNELS]
        if deliveries[(event_id, "push")] == 1 and all(row and row.status in DELIVERED for row in rows):
            account.criticals_alone += 1
    return account


def flush_crashes(log: str) -> list[str]:
    """The digests whose flush an injected crash cut off after publishing, once per crash."""
    return [m.group(1) for m in _FLUSH_CRASH.finditer(log)]


def digests_sent(log: str) -> Counter[str]:
    """How many times the due function logged each digest sent (its window marked SENT)."""
    sent: Counter[str] = Counter()
    for line in log.splitlines():
        start = line.find("{")
        if start < 0 or "digest sent" not in line:
            continue
        try:
            logged = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(logged, dict) and logged.get("message") == "digest sent":
            sent[str(logged.get("notification_id"))] += 1
    return sent


@dataclass
class DigestResult:
    name: str
    account: DigestAccount
    seconds: float
    published: Published
    crashes: list[str]
    retried: int
    """Crashed flushes whose digest was sent by a later flush (its window marked SENT)."""
    unfinished_windows: int
    dead_letter_messages: int

    @property
    def passed(self) -> bool:
        return (
            self.account.clean
            and not self.published.refused
            and not self.unfinished_windows
            and bool(self.crashes)
            and self.retried == len(set(self.crashes))
        )

    def line(self) -> str:
        a = self.account
        return (
            f"chaos {self.name}: windows={a.windows} sent={a.sent} duplicates={a.duplicates} lost={a.lost} "
            f"events={a.events} counted={a.counted} critical={a.criticals_alone}/{a.criticals} "
            f"flush_crashes={len(self.crashes)} seconds={self.seconds:.1f}"
        )

    def details(self) -> str:
        p = self.published
        return (
            f"  retried_after_a_crash={self.retried} unfinished_windows={self.unfinished_windows} "
            f"refused_by_api={p.refused} messages_in_dlqs={self.dead_letter_messages} "
            f"requests_sent_again={p.resent} burst_sent_within={p.sent_within:.3f}s "
            f"burst_answered_within={p.answered_within:.2f}s"
        )


def run_digests(
    scenario: DigestScenario, *, wait_seconds: float, logs: Path, emulator: str | None = None
) -> DigestResult:
    log_path = logs / f"{scenario.name}.log"
    local = LocalStackProcess(
        log_path, profile="fast", overrides=scenario.overrides, chaos=scenario.chaos, emulator=emulator
    )
    started = time.monotonic()
    local.start()
    try:
        observer = Observer(local)
        for index in range(scenario.recipients):
            recipient, document = digest_recipient(index)
            status, answer = local.request("PUT", f"/recipients/{recipient}", document)
            if status not in (200, 201):
                raise RuntimeError(f"PUT /recipients/{recipient} answered {status}: {answer}")
        publishing = time.monotonic()
        published = publish_bursts(local, scenario)
        events, criticals = published.events, published.criticals
        print(
            f"  {scenario.name}: {len(events)} LIKEs and {len(criticals)} critical ones accepted in "
            f"{time.monotonic() - publishing:.1f} s",
            file=sys.stderr,
        )
        unfinished = 0

        def check() -> tuple[bool, str]:
            nonlocal unfinished
            unsettled = unsettled_digest_events(events, criticals, observer.status_rows())
            unfinished = observer.unfinished_windows()
            in_queues = observer.queued(dead_letter=False)
            done = unsettled == 0 and unfinished == 0 and in_queues == 0
            return done, (
                f"{unsettled} events not settled, {unfinished} windows open or flushing, "
                f"{in_queues} messages in the queues"
            )

        wait_until(scenario.name, wait_seconds, check, every=1)
        seconds = time.monotonic() - started
        account = account_digests(events, criticals, observer.status_rows(), local.outbox())
        log = local.log()
        crashes = flush_crashes(log)
        sent = digests_sent(log)
        return DigestResult(
            name=scenario.name,
            account=account,
            seconds=seconds,
            published=published,
            crashes=crashes,
            retried=sum(1 for digest in set(crashes) if sent[digest]),
            unfinished_windows=unfinished,
            dead_letter_messages=observer.queued(dead_letter=True),
        )
    finally:
        local.stop()


# ---------------------------------------------------------------------------------------------
# The provider-outage scenario
# ---------------------------------------------------------------------------------------------

OUTAGE_SENT = {"SENT", "DELIVERED"}
"""What every notification of the provider-outage scenario is expected to end as."""
_OUTAGE_LINE = re.compile(r"\[chaos\] outage: (\w+) (down|back) \(([\d.]+)-([\d.]+) s\) at (\S+?\+00:00)")
"""devstack.outage.OUTAGE_DOWN and OUTAGE_BACK (not importable here, where the layer is not on the path;
tests/unit/devstack check they agree)."""


@dataclass(frozen=True)
class OutageScenario:
    """`count` e-mails and SMS (half each, alternating) published evenly over `publish_seconds`, while
    the primaries `outages` names are down from `start` to `end` seconds after the stack started."""

    name: str
    overrides: list[str]
    primaries: Mapping[str, str]
    """Each channel's primary provider, by the name its sandbox has in statuses and the outbox."""
    fallbacks: Mapping[str, str]
    start: float
    end: float
    count: int
    publish_seconds: float
    breaker_cooldown_seconds: float
    """BREAKER_COOLDOWN_SECONDS (ConsumerSettings' default: not a template Parameter)."""
    settle_seconds: float
    """The longest wait, once everything is published, for the rest to settle."""

    @property
    def chaos(self) -> str:
        windows = "+".join(f"{provider}@{self.start:g}-{self.end:g}" for provider in self.providers)
        return f"outage={windows}"

    @property
    def providers(self) -> list[str]:
        """The providers taken down, as `--chaos` names them (`sandbox-sendgrid` plays sendgrid)."""
        return [name.removeprefix("sandbox-") for name in self.primaries.values()]

    @property
    def recovered_after(self) -> float:
        """Seconds after the outage ended from which every notification published is expected to go
        through its primary again: the breaker opened early in the outage, its cool-down is over, a
        probe found the primary well and closed it (with a few seconds' margin)."""
        return self.breaker_cooldown_seconds + 5


PROVIDER_OUTAGE = OutageScenario(
    "provider-outage",
    ["EmailProviders=sendgrid,ses", "SmsProviders=twilio,eum", "BreakerFailures=5"],
    primaries={"email": "sandbox-sendgrid", "sms": "sandbox-twilio"},
    fallbacks={"email": "sandbox-ses", "sms": "sandbox-eum"},
    # Shorter than the 30 s cool-down: the breaker opens a few seconds in, so its first probe comes
    # after the outage and closes it; the last 25 s of publishing then find the primaries well.
    start=20,
    end=45,
    count=300,
    publish_seconds=100,
    breaker_cooldown_seconds=30,
    settle_seconds=60,
)


def outage_notification(index: int) -> dict[str, Any]:
    """The `index`th notification of the provider-outage scenario: e-mail and SMS in turn, then the
    priorities, each to an address the sandbox accepts."""
    channel = ("email", "sms")[index % 2]
    return {
        "recipientId": f"outage-{index}",
        "type": channel,
        "priority": PRIORITIES[(index // 2) % len(PRIORITIES)],
        "messageBody": f"outage notification {index}",
        "to": f"outage-{index}@example.com" if channel == "email" else f"+1415{index:07d}",
    }


@dataclass(frozen=True)
class Accepted:
    notification_id: str
    channel: str
    at: datetime
    """When the API accepted it (UTC)."""


@dataclass(frozen=True)
class Window:
    """An outage as the stack logged it: when the provider went down and came back (UTC)."""

    provider: str
    down: datetime
    back: datetime | None


def outage_windows(log: str) -> dict[str, Window]:
    """Each provider's outage, from the stack's `[chaos] outage:` lines (the first window of each)."""
    down: dict[str, datetime] = {}
    back: dict[str, datetime] = {}
    for m in _OUTAGE_LINE.finditer(log):
        at = datetime.fromisoformat(m.group(5))
        (down if m.group(2) == "down" else back).setdefault(m.group(1), at)
    return {provider: Window(provider, at, back.get(provider)) for provider, at in down.items()}


def publish_spread(
    local: LocalStackProcess, count: int, seconds: float, threads: int
) -> tuple[list[Accepted], int, int]:
    """Publish `count` outage notifications evenly over `seconds` (the `i`th not before `i *
    seconds / count` s from now), each with an Idempotency-Key, retried as `post_idempotently`;
    (those accepted, how many the API refused for good, how many requests were sent again)."""
    started = time.monotonic()

    def one(index: int) -> tuple[Accepted | None, int]:
        time.sleep(max(0.0, started + index * seconds / count - time.monotonic()))
        body = outage_notification(index)
        notification_id, resent = post_idempotently(
            local, "/api/v1/notifications/publish", body, "notificationId", f"publish {index}"
        )
        if notification_id is None:
            return None, resent
        return Accepted(notification_id, body["type"], datetime.now(UTC)), resent

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(one, range(count)))
    accepted = [a for a, _ in answers if a is not None]
    return accepted, count - len(accepted), sum(resent for _, resent in answers)


@dataclass(frozen=True)
class ProviderRow:
    status: str
    provider: str | None = None


@dataclass
class OutageAccount:
    """What became of the provider-outage scenario's notifications (see `account_outage`)."""

    accepted: int = 0
    sent: int = 0
    failed_over: int = 0
    lost: int = 0
    duplicates: int = 0
    primary_in_outage: int = 0
    """Outbox deliveries by a primary while it was down (a send the outage should have refused)."""
    phases: dict[str, Counter[str]] = field(default_factory=dict)
    """Per phase (`before`, `during`, `after`, `recovered`), the notifications published then, by
    the kind of provider their status names (`primary`, `fallback`, `none`)."""

    @property
    def recovered(self) -> tuple[int, int]:
        """Of the notifications published once the breaker should have closed: (through the primary,
        all)."""
        phase = self.phases.get("recovered", Counter())
        return phase["primary"], sum(phase.values())

    @property
    def problems(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{self.lost} notifications lost")
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate deliveries")
        if not self.failed_over:
            found.append("nothing failed over: the outage proved nothing")
        if self.primary_in_outage:
            found.append(f"{self.primary_in_outage} deliveries through a primary while it was down")
        through_primary, published = self.recovered
        if not published:
            found.append("nothing was published once the breaker should have closed")
        elif through_primary < published:
            found.append(
                f"after the outage, {published - through_primary} of {published} notifications did not "
                "go through the primary: its breaker did not close"
            )
        return found

    def fields(self) -> str:
        through_primary, published = self.recovered
        return (
            f"accepted={self.accepted} sent={self.sent} failed_over={self.failed_over} lost={self.lost} "
            f"duplicates={self.duplicates} primary_after={through_primary}/{published}"
        )


def account_outage(
    accepted: Sequence[Accepted],
    rows: Mapping[tuple[str, str], ProviderRow],
    outbox: Sequence[Mapping[str, Any]],
    windows: Mapping[str, Window],
    scenario: OutageScenario,
    *,
    grace_seconds: float = 1.0,
) -> OutageAccount:
    """Account for every accepted notification from its status row and the sandbox's outbox.

    - `sent`: status SENT or DELIVERED (the receipt came). Nothing else is expected: no address the
      sandbox fails is used, and no permanent failure is injected, so every other outcome (no status,
      still PENDING or RETRYING, FAILED, DEAD_LETTERED, BOUNCED) is `lost`.
    - `failed_over`: those whose status names their channel's fallback (`sandbox-ses`, `sandbox-eum`).
    - `duplicates`: outbox deliveries beyond the first per (notification, channel), whichever
      provider each went through.
    - `primary_in_outage`: outbox deliveries by a channel's primary from `grace_seconds` after it went
      down (a batch under way then may finish) until it came back (`windows`, by `--chaos` name).
    - `phases`: each notification, by when the API accepted it: `before` the outage, `during` it,
      `after` it, and `recovered` (also `after`) from `scenario.recovered_after` seconds after its
      end; by the provider its status names (`primary`, `fallback`, or `none`)."""
    account = OutageAccount(accepted=len(accepted))
    account.phases = {phase: Counter() for phase in ("before", "during", "after", "recovered")}
    for item in accepted:
        row = rows.get((item.notification_id, item.channel))
        if row is not None and row.status in OUTAGE_SENT:
            account.sent += 1
        else:
            account.lost += 1
        kind = "none"
        if row is not None and row.provider == scenario.fallbacks.get(item.channel):
            kind = "fallback"
            account.failed_over += 1
        elif row is not None and row.provider == scenario.primaries.get(item.channel):
            kind = "primary"
        window = windows.get(scenario.primaries.get(item.channel, "").removeprefix("sandbox-"))
        for phase in _phases(item.at, window, scenario.recovered_after):
            account.phases[phase][kind] += 1
    deliveries = Counter((entry["notification_id"], entry["channel"]) for entry in outbox)
    account.duplicates = sum(n - 1 for n in deliveries.values() if n > 1)
    account.primary_in_outage = _primary_in_outage(outbox, windows, scenario, grace_seconds)
    return account


def _phases(at: datetime, window: Window | None, recovered_after: float) -> list[str]:
    """The phases of a notification accepted `at`, in the outage `window` of its primary."""
    if window is None or at < window.down:
        return ["before"]
    if window.back is None or at < window.back:
        return ["during"]
    if (at - window.back).total_seconds() >= recovered_after:
        return ["after", "recovered"]
    return ["after"]


def _primary_in_outage(
    outbox: Sequence[Mapping[str, Any]],
    windows: Mapping[str, Window],
    scenario: OutageScenario,
    grace_seconds: float,
) -> int:
    """Outbox deliveries by a channel's primary from `grace_seconds` after it went down until it came
    back."""
    primaries = {name: channel for channel, name in scenario.primaries.items()}
    found = 0
    for entry in outbox:
        provider = str(entry.get("provider"))
        window = windows.get(provider.removeprefix("sandbox-"))
        if primaries.get(provider) != entry["channel"] or window is None:
            continue
        sent_at = datetime.fromisoformat(str(entry["sent_at"]))
        if (sent_at - window.down).total_seconds() >= grace_seconds and (
            window.back is None or sent_at < window.back
        ):
            found += 1
    return found


def breaker_events(log: str) -> Counter[str]:
    """How many times the consumers logged a primary's breaker `opened` and a primary `back`."""
    events: Counter[str] = Counter()
    for line in log.splitlines():
        if "breaker opened" in line:
            events["opened"] += 1
        elif "the primary provider is back" in line:
            events["closed"] += 1
    return events


@dataclass
class OutageResult:
    name: str
    account: OutageAccount
    seconds: float
    refused: int
    resent: int
    windows: dict[str, Window]
    breakers: Counter[str]
    dead_letter_messages: int
    statuses: Counter[str]

    @property
    def problems(self) -> list[str]:
        found = list(self.account.problems)
        if self.refused:
            found.append(f"the API refused {self.refused} notifications")
        if len(self.windows) < 2 or any(w.back is None for w in self.windows.values()):
            found.append(f"the outage windows were not all logged: {sorted(self.windows)}")
        return found

    def line(self) -> str:
        return f"chaos {self.name}: {self.account.fields()} seconds={self.seconds:.1f}"

    def details(self) -> str:
        phases = "; ".join(
            f"{phase} " + " ".join(f"{kind}={n}" for kind, n in sorted(kinds.items()))
            for phase, kinds in self.account.phases.items()
        )
        return (
            f"  {phases}\n"
            f"  statuses={dict(sorted(self.statuses.items()))} breaker_opened={self.breakers['opened']} "
            f"breaker_closed={self.breakers['closed']} "
            f"primary_sends_in_outage={self.account.primary_in_outage} "
            f"refused_by_api={self.refused} requests_sent_again={self.resent} "
            f"messages_in_dlqs={self.dead_letter_messages}"
        )


def run_outage(
    scenario: OutageScenario, *, threads: int, wait_seconds: float, logs: Path, emulator: str | None = None
) -> OutageResult:
    log_path = logs / f"{scenario.name}.log"
    local = LocalStackProcess(
        log_path, profile="fast", overrides=scenario.overrides, chaos=scenario.chaos, emulator=emulator
    )
    started = time.monotonic()
    local.start()
    try:
        observer = Observer(local)
        accepted, refused, resent = publish_spread(local, scenario.count, scenario.publish_seconds, threads)
        print(
            f"  {scenario.name}: {len(accepted)} accepted in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        rows: dict[tuple[str, str], ProviderRow] = {}

        def check() -> tuple[bool, str]:
            rows.clear()
            rows.update(observer.provider_rows())
            unsettled = sum(
                1
                for a in accepted
                if (row := rows.get((a.notification_id, a.channel))) is None or row.status not in SETTLED
            )
            in_queues = observer.queued(dead_letter=False)
            return unsettled == 0 and in_queues == 0, f"{unsettled} not settled, {in_queues} in the queues"

        wait_until(scenario.name, min(wait_seconds, scenario.settle_seconds), check)
        seconds = time.monotonic() - started
        log = local.log()
        windows = outage_windows(log)
        account = account_outage(accepted, rows, local.outbox(), windows, scenario)
        published = {(a.notification_id, a.channel) for a in accepted}
        return OutageResult(
            name=scenario.name,
            account=account,
            seconds=seconds,
            refused=refused,
            resent=resent,
            windows=windows,
            breakers=breaker_events(log),
            dead_letter_messages=observer.queued(dead_letter=True),
            statuses=Counter(row.status for key, row in rows.items() if key in published),
        )
    finally:
        local.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=1000, help="notifications per scenario but digests (default 1000)"
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="concurrent API clients, but in digests (default 8)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=900,
        help=f"most seconds to wait per scenario (digests: at most {DIGESTS.wait_seconds:.0f})",
    )
    parser.add_argument(
        "--only",
        choices=[*(s.name for s in SCENARIOS), DIGESTS.name, PROVIDER_OUTAGE.name],
        help="run one scenario",
    )
    parser.add_argument(
        "--emulator",
        choices=EMULATORS,
        default=DEFAULT_EMULATOR,
        help="the local stacks' emulator (ministack)",
    )
    args = parser.parse_args(argv)
    failed = False
    logs = Path(tempfile.mkdtemp(prefix="chaos-"))
    for scenario in SCENARIOS:
        if args.only and scenario.name != args.only:
            continue
        result = run(
            scenario,
            count=args.count,
            threads=args.threads,
            wait_seconds=args.wait,
            logs=logs,
            emulator=args.emulator,
        )
        print(result.line(), flush=True)
        print(
            f"  suppressed={result.statuses['SUPPRESSED']} refused_by_api={result.refused} "
            f"messages_in_dlqs={result.dead_letter_messages} injected_crashes={result.crashes} "
            f"injected_timeouts={result.timeouts} duplicates_not_from_a_fault={result.unexplained} "
            f"receipt_duplicates={result.receipt_duplicates}",
            flush=True,
        )
        if result.lost or result.lost_receipts or result.refused or result.unexplained:
            failed = True
        if result.duplicates and not scenario.duplicates_allowed:
            failed = True
    if not args.only or args.only == DIGESTS.name:
        digests = run_digests(
            DIGESTS, wait_seconds=min(args.wait, DIGESTS.wait_seconds), logs=logs, emulator=args.emulator
        )
        print(digests.line(), flush=True)
        print(digests.details(), flush=True)
        if not digests.crashes:
            print("  no flush crash was injected: the scenario proved nothing", file=sys.stderr)
        if not digests.passed:
            failed = True
    if not args.only or args.only == PROVIDER_OUTAGE.name:
        outage = run_outage(
            PROVIDER_OUTAGE, threads=args.threads, wait_seconds=args.wait, logs=logs, emulator=args.emulator
        )
        print(outage.line(), flush=True)
        print(outage.details(), flush=True)
        for problem in outage.problems:
            print(f"  {PROVIDER_OUTAGE.name}: {problem}", file=sys.stderr)
        if outage.problems:
            failed = True
    if failed:
        print(f"the local stacks' logs are in {logs}", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
