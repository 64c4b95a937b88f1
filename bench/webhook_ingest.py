"""How long the webhooks function takes to verify and apply one full SendGrid batch, and whether any
of its events is lost.

SendGrid posts its Event Webhook in batches of up to 768 KB. This builds the largest such batch, as
SendGrid would for a busy sender: per e-mail `processed` and `delivered` (one in 25 bounces instead),
and for some an `open` and a `click`, shaped as SendGrid documents them. The batch is signed with a
P-256 key whose public half is in the SendGrid credentials, as deployed, and POSTed to the real handler
(`functions/webhooks/app.py`); the time is the handler's wall time, from the API Gateway event to its
answer. AWS is answered two ways, as in `bench.batch_latency`:

- `stub` (the budgeted figure, `webhook_ingest.seconds`): the in-process answers of bench/_stubs.py
  after `--aws-latency-ms` (5 ms), as DynamoDB answers in the region, so the concurrent writes
  overlap as they do there;
- `moto` (`webhook_ingest.moto_seconds`, and the check): every resource from template.yaml in moto,
  the e-mails' statuses SENT first, so every conditional write is really checked; then every status
  is read back and must be what its events say (DELIVERED, or BOUNCED with the address suppressed):
  `lost` counts those that are not. moto holds the interpreter for each call (1 to 10 ms of CPU), so
  its time is the writes' one after another.

    PYTHONPATH=layers/common python -m bench.webhook_ingest [--runs 5] [--aws-latency-ms 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from bench import _stubs
from bench.report import record
from devstack.lambda_events import LambdaContext, api_event
from devstack.provision import provision
from devstack.template import Stack, load_template
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import Envelope, MessageContent

MAX_BATCH_BYTES = 768 * 1024
BUDGET_SECONDS = 3.0
"""The most one full batch may take to be verified, applied and answered (the issue's budget)."""
BOUNCE_EVERY = 25
"""One e-mail in this many bounces (4%)."""


def _event(notification_id: str, address: str, name: str, at: int, **fields: Any) -> dict[str, Any]:
    return {
        "email": address,
        "timestamp": at,
        "smtp-id": f"<{notification_id}@ismtpd-555>",
        "event": name,
        "category": ["notifications"],
        "sg_event_id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
        "sg_message_id": f"{notification_id[:22]}.filterdrecv-5645d9c87f-6r2ch-1-5E7A2B.0",
        "notification_id": notification_id,
        **fields,
    }


def batch(now: int) -> tuple[bytes, dict[str, str]]:
    """The largest batch under 768 KB, and each notification's expected final status."""
    events: list[dict[str, Any]] = []
    expected: dict[str, str] = {}
    size = 2
    index = 0
    while True:
        notification_id = str(uuid.uuid4())
        address = f"user{index}@example.com"
        if index % BOUNCE_EVERY == BOUNCE_EVERY - 1:
            these = [
                _event(notification_id, address, "processed", now - 30),
                _event(
                    notification_id,
                    address,
                    "bounce",
                    now - 20,
                    type="bounce",
                    status="5.1.1",
                    reason="550 5.1.1 The email account that you tried to reach does not exist.",
                ),
            ]
            final = "BOUNCED"
        else:
            these = [
                _event(notification_id, address, "processed", now - 30),
                _event(notification_id, address, "delivered", now - 20, response="250 OK", tls=1),
            ]
            if index % 3 == 0:
                these.append(
                    _event(
                        notification_id, address, "open", now - 10, useragent="Mozilla/5.0", ip="203.0.113.7"
                    )
                )
            if index % 9 == 0:
                these.append(
                    _event(notification_id, address, "click", now - 5, url="https://example.com/p/1")
                )
            final = "DELIVERED"
        grown = size + sum(len(json.dumps(e)) + 2 for e in these)
        if grown > MAX_BATCH_BYTES:
            break
        events += these
        expected[notification_id] = final
        size = grown
        index += 1
    body = json.dumps(events).encode()
    if len(body) > MAX_BATCH_BYTES:
        raise RuntimeError(f"the batch is {len(body)} bytes, over SendGrid's {MAX_BATCH_BYTES}")
    return body, expected


@contextmanager
def _environment() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(  # nothing can reach a real account
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - not a secret
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _key_document(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return json.dumps({"api_key": "SG.bench", "webhook_verification_key": base64.b64encode(public).decode()})


def _post(key: ec.EllipticCurvePrivateKey, body: bytes) -> tuple[float, dict[str, Any]]:
    """The handler's wall time for one signed POST of `body`, and its answer's counts."""
    from functions.webhooks import app  # noqa: PLC0415 - once its environment is set

    timestamp = str(int(time.time()))
    signature = base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    event = api_event("POST", "/webhooks/sendgrid", body=body.decode(), headers=headers)
    started = time.perf_counter()
    answer = app.lambda_handler(event, LambdaContext(function_name="bench-webhooks"))
    elapsed = time.perf_counter() - started
    if answer["statusCode"] != 200:
        raise RuntimeError(f"the batch was refused: {answer}")
    return elapsed, json.loads(answer["body"])


def timed(runs: int, aws_latency_ms: float) -> tuple[list[float], int, int]:
    """Seconds per batch with AWS answered by the in-process stubs after `aws_latency_ms` (as DynamoDB
    answers in the region, so the concurrent writes overlap as they do there); and the receipts
    received and applied in the last run."""
    key = ec.generate_private_key(ec.SECP256R1())
    timings: list[float] = []
    counts: dict[str, Any] = {}
    with _environment():
        os.environ.update(
            STATUS_TABLE="bench-status",
            SUPPRESSIONS_TABLE="bench-suppressions",
            IDEMPOTENCY_TABLE="bench-idempotency",
            SENDGRID_CREDENTIALS="bench/sendgrid",
        )
        answers = _stubs.Answers(secrets={"bench/sendgrid": _key_document(key)})
        with _stubs.in_process(answers, aws_latency_seconds=aws_latency_ms / 1000, vendor_latency_seconds=0):
            from notifier import runtime  # noqa: PLC0415 - the layer is on the path by now

            runtime.reset()
            for run in range(runs + 1):
                body, _ = batch(int(time.time()))
                elapsed, counts = _post(key, body)
                if run:  # the first is the cold start
                    timings.append(elapsed)
            runtime.reset()
    return timings, counts["received"], counts["applied"]


def checked() -> dict[str, Any]:
    """One batch into moto, every status read back: how long, and how many notifications did not end
    as their events say (lost)."""
    key = ec.generate_private_key(ec.SECP256R1())
    with _environment(), mock_aws():
        deployment = provision(Stack(load_template(), overrides={"PublicApiUrl": "https://api.example.com"}))
        for spec in deployment.functions.values():
            os.environ.update(spec.environment)
        boto3.client("secretsmanager").create_secret(Name="bench/sendgrid", SecretString=_key_document(key))
        os.environ["SENDGRID_CREDENTIALS"] = "bench/sendgrid"
        from notifier import runtime  # noqa: PLC0415 - the layer is on the path by now
        from notifier.models.statuses import Status  # noqa: PLC0415

        runtime.reset()
        statuses = runtime.status_store()
        body, expected = batch(int(time.time()))
        for notification_id in expected:
            envelope = Envelope(
                notification_id=notification_id,
                correlation_id=notification_id,
                recipient_id="bench",
                event_type="NOTIFICATION",
                channels=[Channel.EMAIL],
                priority=Priority.STANDARD,
                addresses={Channel.EMAIL: "x@example.com"},
                content=MessageContent(body="bench"),
                created_at=datetime.now(UTC),
            )
            statuses.accept(envelope)
            statuses.begin_attempt(envelope, Channel.EMAIL, lease_seconds=60)
            statuses.advance(notification_id, Channel.EMAIL, Status.SENT, provider_message_id="x")
        elapsed, counts = _post(key, body)
        ended: dict[str, str] = {}
        pages = boto3.client("dynamodb").get_paginator("scan")
        for page in pages.paginate(
            TableName=statuses.table,
            ProjectionExpression="notification_id, #s",
            ExpressionAttributeNames={"#s": "status"},
        ):
            ended.update({i["notification_id"]["S"]: i["status"]["S"] for i in page["Items"]})
        suppressed = boto3.client("dynamodb").scan(
            TableName=runtime.suppression_store().table, Select="COUNT"
        )
        runtime.reset()
    lost = sum(1 for n, final in expected.items() if ended.get(n) != final)
    bounced = sum(1 for final in expected.values() if final == "BOUNCED")
    return {
        "moto_seconds": round(elapsed, 3),
        "events": counts["received"] + counts["ignored"],
        "emails": len(expected),
        "batch_kb": round(len(body) / 1024),
        "lost": lost,
        "suppressed_missing": bounced - int(suppressed["Count"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--aws-latency-ms", type=float, default=5, help="each stubbed AWS call's wait")
    args = parser.parse_args()
    timings, received, applied = timed(args.runs, args.aws_latency_ms)
    figures = checked()
    figures |= {
        "seconds": round(statistics.median(timings), 3),
        "budget_seconds": BUDGET_SECONDS,  # also bench.report's row
        "stub_receipts_applied": applied,
    }
    size = f"{figures['batch_kb']} KB ({figures['events']} events, {figures['emails']} e-mails)"
    stubbed = f"AWS stubbed at {args.aws_latency_ms:g} ms, {args.runs} warm runs"
    print(
        f"one SendGrid batch of {size}:\n"
        f"  {stubbed}: median {figures['seconds']:.3f} s ({min(timings):.3f}-{max(timings):.3f}); "
        f"receipts {received}, applied {applied}\n"
        f"  moto in-process, checked: {figures['moto_seconds']:.2f} s; not ended as their events say: "
        f"{figures['lost']}; bounced addresses not suppressed: {figures['suppressed_missing']}"
    )
    record({"webhook_ingest": figures})


if __name__ == "__main__":
    main()
