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
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from .process import LocalStackProcess

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


def publish_all(local: LocalStackProcess, count: int, threads: int) -> tuple[list[str], int]:
    """Publish `count` notifications; (their ids, how many the API refused for good)."""

    def one(index: int) -> str | None:
        key = str(uuid.uuid4())
        for attempt in range(6):
            status, body = local.request(
                "POST", "/api/v1/notifications/publish", notification(index), headers={"Idempotency-Key": key}
            )
            if status == 202:
                return str(body["notificationId"])
            if status < 500 and status != 409:
                break
            time.sleep(0.2 * 2**attempt)
        print(f"  publish {index} refused: {status} {body}", file=sys.stderr)
        return None

    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(one, range(count)))
    accepted = [i for i in ids if i is not None]
    return accepted, count - len(accepted)


class Observer:
    """Reads the emulator directly: statuses, queue depths, and the outbox over the API."""

    def __init__(self, local: LocalStackProcess, stack: str = "notifier") -> None:
        self.local = local
        # The local stack's emulator takes any credentials.
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - not a secret: the emulator takes any
            region_name="us-east-1",
        )
        self.dynamodb = session.client("dynamodb", endpoint_url=local.endpoint)
        self.sqs = session.client("sqs", endpoint_url=local.endpoint)
        self.table = f"{stack}-StatusTable"

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


def run(scenario: Scenario, *, count: int, threads: int, wait_seconds: float, logs: Path) -> Result:
    log_path = logs / f"{scenario.name}.log"
    local = LocalStackProcess(log_path, profile="fast", overrides=scenario.overrides, chaos=scenario.chaos)
    local.start()
    try:
        observer = Observer(local)
        started = time.monotonic()
        ids, refused = publish_all(local, count, threads)
        print(
            f"  {scenario.name}: {len(ids)} accepted in {time.monotonic() - started:.1f} s", file=sys.stderr
        )
        published = set(ids)
        deadline = started + wait_seconds
        settled: dict[tuple[str, str], str] = {}
        last_report = 0.0
        while True:
            statuses = observer.statuses()
            settled = {k: v for k, v in statuses.items() if k[0] in published and v in SETTLED}
            in_queues = observer.queued(dead_letter=False)
            awaiting = awaiting_receipts(statuses, published)
            if len(settled) >= len(ids) and in_queues == 0 and awaiting == 0:
                break
            if time.monotonic() > deadline:
                print(f"  {scenario.name}: gave up waiting after {wait_seconds:.0f} s", file=sys.stderr)
                break
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                print(
                    f"  {scenario.name}: {len(settled)}/{len(ids)} settled, {in_queues} in the queues, "
                    f"{awaiting} awaiting their receipt",
                    file=sys.stderr,
                )
            time.sleep(0.5)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="notifications per scenario (default 1000)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent API clients (default 8)")
    parser.add_argument("--wait", type=float, default=900, help="most seconds to wait per scenario")
    parser.add_argument("--only", choices=[s.name for s in SCENARIOS], help="run one scenario")
    args = parser.parse_args(argv)
    failed = False
    logs = Path(tempfile.mkdtemp(prefix="chaos-"))
    for scenario in SCENARIOS:
        if args.only and scenario.name != args.only:
            continue
        result = run(scenario, count=args.count, threads=args.threads, wait_seconds=args.wait, logs=logs)
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
    if failed:
        print(f"the local stacks' logs are in {logs}", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
