"""How long a consumer takes to deliver a batch of 10 when each vendor call takes 100 ms.

Each channel's real handler runs in-process against moto (every resource from template.yaml) and
sends through its vendor's SDK to a loopback fake of that vendor that waits `--latency-ms` before
answering: SendGrid and FCM built from credentials in Secrets Manager as deployed, Twilio with the
fake's HTTP client (its SDK takes no base URL). One warm-up batch (the cold start: credentials, and
FCM's access token), then `--runs` batches of 10 new notifications, each to its own recipient. The
time is the handler's wall time, from the SQS event to the batch response; the same is measured at
0 ms vendor latency to show what the rest of the work (moto's DynamoDB calls) costs.

Prints a table and merges `batch10_100ms_seconds` ({"email", "sms", "push"}: the median) and
`batch10_0ms_seconds` into bench/results.json.

    PYTHONPATH=layers/common python -m bench.batch_latency [--runs 5] [--latency-ms 100]
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from devstack.provision import provision
from devstack.template import Stack, load_template
from notifier import runtime
from notifier.models import Channel, Envelope, EventContent, Priority, SocialEventType
from notifier.providers import Delivery, OnResult, Result
from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider
from notifier.recipients import Contacts, PushToken, Recipient
from tests.factories import LambdaContext, sqs_record
from tests.fakes.fcm import FcmFake
from tests.fakes.sendgrid import SendGridFake
from tests.fakes.twilio import TwilioFake

RESULTS = Path(__file__).with_name("results.json")
BATCH = 10
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-token"  # noqa: S105 - a fake's credential


def _handler(channel: Channel) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    # Imported once the environment is set, as Lambda imports a handler in its environment.
    app = importlib.import_module(f"functions.{channel.value}.app")
    return app.lambda_handler  # type: ignore[no-any-return]


@contextmanager
def _stack() -> Iterator[Any]:
    """moto with every resource of template.yaml, and each function's environment from it."""
    saved = dict(os.environ)
    os.environ.update(  # moto's; nothing can reach a real account
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - not a secret
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            deployment = provision(Stack(load_template()))
            for spec in deployment.functions.values():
                os.environ.update(spec.environment)
            runtime.reset()
            yield deployment
            runtime.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _vendor(channel: Channel, latency_s: float) -> Iterator[None]:
    """The channel's vendor fake, and the function configured to use it."""
    with ExitStack() as stack:
        secrets = boto3.client("secretsmanager")
        if channel is Channel.EMAIL:
            fake: Any = stack.enter_context(SendGridFake(api_key="SG.bench"))
            secrets.create_secret(Name="bench/sendgrid", SecretString=json.dumps({"api_key": "SG.bench"}))
            os.environ.update(
                SENDGRID_CREDENTIALS="bench/sendgrid", SENDGRID_HOST=fake.url, EMAIL_FROM="bench@example.com"
            )
            runtime.reset()
        elif channel is Channel.PUSH:
            fake = stack.enter_context(FcmFake(project_id="bench"))
            secrets.create_secret(Name="bench/fcm", SecretString=json.dumps(fake.service_account()))
            os.environ.update(FCM_CREDENTIALS="bench/fcm", FCM_MESSAGES_URL=fake.messages_url)
            runtime.reset()
        else:
            fake = stack.enter_context(TwilioFake(TWILIO_SID, TWILIO_TOKEN))
            runtime.reset()
            config = TwilioConfig(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, from_number="+14155550100")
            runtime.use_provider(Channel.SMS, TwilioProvider(config, http_client=fake.http_client(timeout=5)))
        fake.latency_seconds = latency_s
        yield
        runtime.reset()  # closes the provider (FCM's app) while its fake still answers


def _batch(channel: Channel, queue_arn: str) -> dict[str, Any]:
    """10 notifications, each for its own recipient (stored, so the consumer reads it as usual)."""
    store = runtime.recipient_store()
    records = []
    for i in range(BATCH):
        recipient_id = f"bench-{uuid.uuid4().hex[:12]}"
        store.put(
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
        records.append(sqs_record(envelope.model_dump_json(), queue_arn=queue_arn))
    return {"Records": records}


def measure(channel: Channel, latency_ms: int, runs: int) -> tuple[list[float], list[float]]:
    """Seconds per batch of 10, and of its send step alone, for `runs` warm batches."""
    with _stack() as deployment, _vendor(channel, latency_ms / 1000):
        handler = _handler(channel)
        provider = runtime.provider(channel)
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
        queue_arn = deployment.stack.attrs[(queue, "Arn")]
        context = LambdaContext(function_name=f"bench-{channel.value}")
        timings = []
        for run in range(runs + 1):
            batch = _batch(channel, queue_arn)
            started = time.perf_counter()
            answer = handler(batch, context)
            elapsed = time.perf_counter() - started
            if answer != {"batchItemFailures": []}:
                raise RuntimeError(f"{channel}: the batch did not go through: {answer}")
            if run:  # the first is the cold start
                timings.append(elapsed)
        return timings, sends[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()

    slow = f"batch10_{args.latency_ms}ms"
    keys = (f"{slow}_seconds", f"{slow}_send_step_seconds", "batch10_0ms_seconds")
    results: dict[str, dict[str, float]] = {key: {} for key in keys}
    print(f"a batch of {BATCH}, {args.runs} warm runs each, seconds: median (min-max)")
    print("  channel  vendor  whole batch           of which the send step")
    for channel in Channel:
        for latency in (args.latency_ms, 0):
            timings, sends = measure(channel, latency, args.runs)
            median = statistics.median(timings)
            if latency:
                results[keys[0]][channel.value] = round(median, 4)
                results[keys[1]][channel.value] = round(statistics.median(sends), 4)
            else:
                results[keys[2]][channel.value] = round(median, 4)
            print(
                f"  {channel.value:7}  {latency:3} ms  {median:.3f} ({min(timings):.3f}-{max(timings):.3f})"
                f"   {statistics.median(sends):.3f} ({min(sends):.3f}-{max(sends):.3f})"
            )
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**existing, **results}, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
