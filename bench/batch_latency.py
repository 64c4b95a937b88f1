"""How long a consumer takes to deliver a batch of 10 when each vendor call takes 100 ms.

Each channel's real handler runs in-process and sends through its vendor's SDK to a loopback fake of
that vendor that waits `--latency-ms` before answering: SendGrid and FCM built from credentials in
Secrets Manager as deployed, Twilio with the fake's HTTP client (its SDK takes no base URL). One
warm-up batch (the cold start: credentials, and FCM's access token), then `--runs` batches of 10 new
notifications, each to its own recipient. The time is the handler's wall time, from the SQS event to
the batch response.

AWS is answered two ways:

- `stub` (the budgeted figure, `batch10_100ms_seconds`): in-process answers (bench/_stubs.py) after
  `--aws-latency-ms` (5 ms), as DynamoDB answers in the region: the calls wait as on a network, so
  a batch's 10 conditional updates overlap as they do against DynamoDB;
- `moto` (`batch10_100ms_moto_seconds`, for reference): moto in the same process, with every
  resource from template.yaml, so the conditional updates really are checked; its 1 to 7 ms of CPU per
  call hold the interpreter, so the batch's 21 DynamoDB calls run one after another.

The same is measured at 0 ms vendor latency to show what the rest of the work costs. Prints a table
and merges `batch10_100ms_seconds` ({"email", "sms", "push"}: the median), its send step, the moto
figures and the 0 ms figures into bench/results.json.

    PYTHONPATH=layers/common python -m bench.batch_latency [--runs 5] [--latency-ms 100] [--aws-latency-ms 5]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from bench import _stubs
from bench.cold_start import _stack as dummy_stack
from bench.cold_start import answers as stub_answers
from bench.cold_start import function_environment
from bench.report import record
from devstack.fakes.fcm import FcmFake
from devstack.fakes.sendgrid import SendGridFake
from devstack.fakes.twilio import TwilioFake
from devstack.lambda_events import LambdaContext, record_of
from devstack.provision import provision
from devstack.template import Stack, load_template
from notifier import runtime, vendors
from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.envelope import Envelope, EventContent
from notifier.models.recipients import Contacts, PushToken, Recipient
from notifier.providers import Delivery, OnResult, Result
from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider

BATCH = 10
VENDOR_CHANNELS = [channel for channel in Channel if channel is not Channel.INAPP]
"""The channels measured: each waits on a vendor. In-app has none (its provider writes the inbox table)."""
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-token"  # noqa: S105 - a fake's credential


def _handler(channel: Channel) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    # Imported once the environment is set, as Lambda imports a handler in its environment.
    app = importlib.import_module(f"functions.{channel.value}.app")
    return app.lambda_handler  # type: ignore[no-any-return]


@dataclass
class Aws:
    """Where the consumer's AWS calls go: moto (`answers` None) or the in-process stubs."""

    queue_arns: dict[str, str]
    answers: _stubs.Answers | None = None

    def put_secret(self, name: str, value: str) -> None:
        if self.answers is not None:
            self.answers.secrets[name] = value
        else:
            boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)

    def put_recipient(self, recipient: Recipient) -> None:
        if self.answers is not None:
            self.answers.recipients[recipient.recipient_id] = recipient.model_dump_json()
        else:
            runtime.recipient_store().put(recipient)


@contextmanager
def _stack(channel: Channel, aws: str, aws_latency_s: float, vendor_latency_s: float) -> Iterator[Aws]:
    """The consumer's environment from template.yaml, with AWS answered by moto (every resource of
    the template created in it; the vendor is then a loopback fake, see `_vendor`) or, AWS and the
    vendor alike, by the in-process stubs."""
    saved = dict(os.environ)
    os.environ.update(  # nothing can reach a real account
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - not a secret
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        if aws == "moto":
            with mock_aws():
                deployment = provision(Stack(load_template()))
                for spec in deployment.functions.values():
                    os.environ.update(spec.environment)
                queues = deployment.stack.resources_of_type("AWS::SQS::Queue")
                arns = {q: deployment.stack.attrs[(q, "Arn")] for q in queues}
                runtime.reset()
                yield Aws(arns)
                runtime.reset()
        else:
            stack = dummy_stack()  # each vendor configured, with its credentials' name
            os.environ.update(function_environment(channel.value, stack))
            arns = {q: stack.attrs[(q, "Arn")] for q in stack.resources_of_type("AWS::SQS::Queue")}
            answers = _stubs.Answers.from_json(stub_answers())  # the vendors' credentials
            with _stubs.in_process(
                answers, aws_latency_seconds=aws_latency_s, vendor_latency_seconds=vendor_latency_s
            ):
                runtime.reset()
                yield Aws(arns, answers)
                runtime.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _vendor(channel: Channel, latency_s: float, aws: Aws) -> Iterator[None]:
    """The channel's vendor fake, and the function configured to use it."""
    with ExitStack() as stack:
        if channel is Channel.EMAIL:
            fake: Any = stack.enter_context(SendGridFake(api_key="SG.bench"))
            aws.put_secret("bench/sendgrid", json.dumps({"api_key": "SG.bench"}))
            os.environ.update(
                SENDGRID_CREDENTIALS="bench/sendgrid", SENDGRID_HOST=fake.url, EMAIL_FROM="bench@example.com"
            )
            runtime.reset()
        elif channel is Channel.PUSH:
            fake = stack.enter_context(FcmFake(project_id="bench"))
            aws.put_secret("bench/fcm", json.dumps(fake.service_account()))
            os.environ.update(FCM_CREDENTIALS="bench/fcm", FCM_MESSAGES_URL=fake.messages_url)
            runtime.reset()
        else:
            fake = stack.enter_context(TwilioFake(TWILIO_SID, TWILIO_TOKEN))
            runtime.reset()
            config = TwilioConfig(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, from_number="+14155550100")
            vendors.use_provider(Channel.SMS, TwilioProvider(config, http_client=fake.http_client(timeout=5)))
        fake.latency_seconds = latency_s
        yield
        runtime.reset()  # closes the provider (FCM's app) while its fake still answers


def _batch(channel: Channel, queue_arn: str, aws: Aws) -> dict[str, Any]:
    """10 notifications, each for its own recipient (stored, so the consumer reads it as usual)."""
    records = []
    for i in range(BATCH):
        recipient_id = f"bench-{uuid.uuid4().hex[:12]}"
        aws.put_recipient(
            Recipient(
                recipient_id=recipient_id,
                contacts=Contacts(
                    email=f"{recipient_id}@example.com",
                    phone=f"+1415555{i:04d}",
                    push_tokens=[PushToken(token=f"fcm-token-{recipient_id}", platform="android")],
                ),
            )
        )
        envelope = Envelope(
            notification_id=str(uuid.uuid4()),
            correlation_id="bench",
            recipient_id=recipient_id,
            event_type=SocialEventType.COMMENT,
            priority=Priority.CRITICAL,
            channels=[channel],
            content=EventContent(
                payload={"parent_id": "post_1", "parent_type": "post", "actor_name": "Bench"}
            ),
            created_at=datetime.now(UTC),
        )
        records.append(record_of(envelope.model_dump_json(), queue_arn=queue_arn))
    return {"Records": records}


def measure(
    channel: Channel, latency_ms: int, runs: int, aws: str = "stub", aws_latency_ms: float = 5
) -> tuple[list[float], list[float]]:
    """Seconds per batch of 10, and of its send step alone, for `runs` warm batches."""
    with ExitStack() as stack:
        where = stack.enter_context(_stack(channel, aws, aws_latency_ms / 1000, latency_ms / 1000))
        if aws == "moto":
            stack.enter_context(_vendor(channel, latency_ms / 1000, where))
        handler = _handler(channel)
        provider = vendors.provider(channel)
        send_batch = provider.send_batch
        sends: list[float] = []

        def timed_send_batch(
            deliveries: Sequence[Delivery], on_result: OnResult | None = None
        ) -> list[Result]:
            started = time.perf_counter()
            try:
                return send_batch(deliveries, on_result)
            finally:
                sends.append(time.perf_counter() - started)

        provider.send_batch = timed_send_batch  # type: ignore[method-assign]
        queue = f"{channel.value.capitalize()}CriticalQueue"
        queue_arn = where.queue_arns[queue]
        context = LambdaContext(function_name=f"bench-{channel.value}")
        timings = []
        for run in range(runs + 1):
            batch = _batch(channel, queue_arn, where)
            started = time.perf_counter()
            answer = handler(batch, context)
            elapsed = time.perf_counter() - started
            if answer != {"batchItemFailures": []}:
                raise RuntimeError(f"{channel}: the batch did not go through: {answer}")
            if run:  # the first is the cold start
                timings.append(elapsed)
        vendor_calls = sum(n for name, n in _stubs.calls.items() if name.startswith("vendor."))
        if aws == "stub" and vendor_calls < BATCH * (runs + 1):
            raise RuntimeError(f"{channel}: only {vendor_calls} vendor calls were answered by the stubs")
        _stubs.calls.clear()
        return timings, sends[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--aws-latency-ms", type=float, default=5, help="each stubbed AWS call's wait")
    args = parser.parse_args()

    slow = f"batch10_{args.latency_ms}ms"
    results: dict[str, dict[str, float]] = {}
    print(f"a batch of {BATCH}, {args.runs} warm runs each, seconds: median (min-max)")
    print("  AWS                 channel  vendor  whole batch           of which the send step")
    for aws in ("stub", "moto"):
        suffix = "" if aws == "stub" else "_moto"
        shown = f"stub at {args.aws_latency_ms:g} ms" if aws == "stub" else "moto in-process"
        for channel in VENDOR_CHANNELS:
            for latency in (args.latency_ms, 0):
                timings, sends = measure(channel, latency, args.runs, aws, args.aws_latency_ms)
                median = statistics.median(timings)
                key = f"{slow if latency else 'batch10_0ms'}{suffix}"
                results.setdefault(f"{key}_seconds", {})[channel.value] = round(median, 4)
                results.setdefault(f"{key}_send_step_seconds", {})[channel.value] = round(
                    statistics.median(sends), 4
                )
                print(
                    f"  {shown:18}  {channel.value:7}  {latency:3} ms  {median:.3f} "
                    f"({min(timings):.3f}-{max(timings):.3f})"
                    f"   {statistics.median(sends):.3f} ({min(sends):.3f}-{max(sends):.3f})"
                )
    record(results)


if __name__ == "__main__":
    main()
