"""What one million notifications cost on AWS: requests per notification x list prices.

A notification here is one POST /event whose event goes to the channels of `--channel` (by default
push alone, standard priority: a LIKE's push part; layers/common/notifier/api/routing_rules.json routes
a LIKE to push and in-app, which `--channel push --channel inapp` prices), delivered once. Each
channel's figure alone is recorded too (`cost_by_channel_usd_per_million`). What it costs is derived
from what the code does (`single_event_lines`, `consumer_lines`, `inapp_lines`):

- API Gateway: one REST request.
- publish function (template.yaml's memory, 512 MB): one invocation; one SNS Publish; the ACCEPTED
  status write (one UpdateItem per channel, notifier/status.py); with an Idempotency-Key, Powertools'
  in-progress PutItem and its completed UpdateItem (notifier/idempotency.py).
- SNS -> SQS: the delivery is free for SNS; SQS bills SNS's SendMessage.
- consumer (256 MB): the SQS event source's ReceiveMessage (up to 10 messages each) and
  DeleteMessageBatch (10 a call), one invocation per batch; per batch one BatchGetItem for the
  recipients (eventually consistent: half a read unit per recipient); per record two conditional
  UpdateItems, the lease (QUEUED) and SENT (notifier/delivery.py); the vendor call (data out).
- in-app consumer (no vendor; notifier/providers/inbox.py, notifier/inbox/service.py), per record
  besides the above: the inbox item's conditional PutItem, which also writes the item into the inbox
  table's four local indexes it belongs to at first (newest, active, unread, unseen: a write unit
  each, as index writes are billed to the table: DynamoDB developer guide, "Local secondary indexes",
  write capacity units); two Queries counting the unread and unseen items (eventually consistent,
  billed on the index entries read: `--inapp-unread-items` of `INBOX_ITEM_BYTES` each); one Query of
  the connections table's `recipient` index for the recipient's open connections. For the share of
  recipients with an app open (`--inapp-online-share`; by default all, the costlier side), each of
  their connections (`--inapp-connections`, by default 1) is posted two frames (the item, then the
  counts), each a WebSocket message (API Gateway bills each message to a client, per 32 KB) and
  bytes out; reaching one makes the notification DELIVERED (an UpdateItem of its status) and marks
  the item delivered (an UpdateItem rewriting the item and its four index entries). Its duration is
  modelled, not measured: those calls in sequence at in-region latencies, the records of a batch
  `DeliveryConcurrency` at a time, plus `inapp_cpu_ms_per_record` of CPU (a DEFAULT until a bench
  module measures it), scaled to the function's CPU share. Left out: what an open app then does
  (page, mark, ping: the inbox API's and the socket function's work, per user action rather than
  per notification) and the WebSocket's connection minutes ($0.25 per million, per user session).
- a transient failure (`--transient-failure-rate`) repeats the consumer's part, plus one
  ChangeMessageVisibilityBatch (the backoff) and the record_error write.
- CloudWatch Logs: the JSON log lines and EMF metric blobs each function writes (bytes measured on
  the local stack, below), Lambda's START/END/REPORT lines, 26 bytes of overhead per log event.
- KMS: SNS reuses its data key for 5 minutes and DynamoDB caches its table keys, so KMS calls depend
  on time, not on volume: `--kms-cache-holders` keys refreshed every 5 minutes, spread over
  `--rate` notifications a second.

Lambda duration: the publish function's CPU per event measured by bench.publish_cost
(`publish_cpu_ms_per_event` in bench/results.json; on a full core, so scaled by 1769 MB / memory,
Lambda's CPU share), plus the in-region latency of its AWS calls; a consumer's from bench.batch_latency
(`batch10_100ms_seconds`: a batch of 10 at 100 ms vendor latency, per record); cold starts
(`cold_ms`, bench.cold_start) for `--cold-start-share` of invocations, as INIT is billed since
2025-08. Where a key is missing, a documented default is used and the output says so.

Prices: bench/prices.json (us-east-1, arm64, list prices with their date; not fetched). Free tiers
are not applied. Fixed monthly costs (the KMS key, custom metrics, idle queue polling, secrets) are
listed apart: they do not grow with notifications.

Also the bulk variant: POST /events/bulk with 100 events (PublishBatch, 10 per call), per event.

Prints a breakdown per service and the total, and merges `cost_usd_per_million`,
`cost_breakdown_usd_per_million`, `cost_bulk100_usd_per_million`,
`cost_bulk100_breakdown_usd_per_million`, `cost_by_channel_usd_per_million` and `cost_assumptions`
into bench/results.json. Then digests (bench.digest_cost): a LIKE-heavy mix of events with digests
off and on, for bursts of 1, 5 and 20 events a window (the headline: 5), under the same assumptions,
merged as `cost_digests`.

    .venv/bin/python -m bench.cost [--channel push [--channel inapp]] [--priority standard]
        [--records-per-invocation N] [--idempotency-key-share 1] [--transient-failure-rate 0]
        [--status-reads 0] [--rate 10] [--inapp-online-share 1] [--inapp-connections 1]
        [--burst 1 --burst 5 --burst 20] [--headline-burst 5] [--due-records-per-invocation 1]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.report import load, record
from devstack.template import Stack, load_template

HERE = Path(__file__).parent
PRICES = HERE / "prices.json"

MB_PER_VCPU = 1769  # Lambda: one full vCPU at 1,769 MB, proportionally less below
KB = 1024
GB = 1024**3
CHUNK_BYTES = 64 * KB  # SNS and SQS bill each 64 KB of a request's payload as one request
LOG_EVENT_OVERHEAD_BYTES = 26

# Bytes of application log per unit of work, measured on the local stack (make run) on 2026-11-21,
# 20 LIKE events to `alice` (push, standard) and a 60 s Locust run: each JSON line as written.
LOG_BYTES = {
    "publish_line": 593,  # "notification published", one per notification
    "published_metric": 284,  # EMF NotificationsPublished, one per request and (channel, priority)
    "events_metric": 210,  # EMF EventsPublished, one per request
    "sent_line": 589,  # "notification sent", one per record
    "sent_metric": 745,  # EMF NotificationsSent + VendorLatency, one per batch...
    "sent_metric_per_value": 22,  # ...plus one VendorLatency value per message
    "transient_line": 650,  # "delivery failed for now; SQS will retry" (estimated from the others)
    "platform": 340,  # Lambda's START, END and REPORT lines, per invocation (3 events)
}
PLATFORM_EVENTS = 3

CHANNELS = ("email", "sms", "push", "inapp")
INBOX_ITEM_BYTES = 600
"""An inbox item as notifier/stores/inbox.py writes it, as DynamoDB sizes it (attribute names and
values): the items of events/sqs_inapp_critical.json are 516 and 569 bytes. Each local index entry
(projection ALL) is the item again, within one 1 KB write unit."""
INBOX_NEW_ITEM_INDEXES = 4
"""The inbox table's local indexes a new item is written into: newest, active, unread, unseen."""
INAPP_FRAME_BYTES = 400
"""The frames posted to one connection for a new item: the notification (about 300-360 bytes for the
samples) and the counts (39)."""

DEFAULTS = {  # used when bench/results.json lacks a measurement
    "publish_cpu_ms_per_event": {"single": 8.0, "single_idempotent": 12.0, "bulk": 1.5},
    "batch10_100ms_seconds": {"email": 0.25, "sms": 0.25, "push": 0.25},
    "cold_ms": {
        "publish": 1000.0,
        "email": 1200.0,
        "sms": 1200.0,
        "push": 1200.0,
        "inapp": 1000.0,
        "due": 1000.0,  # bench.cold_start does not measure the due function
    },
    # CPU of one in-app record on a full core (storing, counting, finding connections, posting two
    # frames, the status writes: about ten AWS calls' serialization and parsing): a guess, not measured.
    "inapp_cpu_ms_per_record": {"inapp": 3.0},
    # CPU of one digest flush on a full core (claim, build the envelope, Publish, ACCEPTED per channel,
    # finish, three log lines: bench.digest_cost): a guess, not measured.
    "due_cpu_ms_per_flush": {"due": 5.0},
}


@dataclass
class Assumptions:
    channels: tuple[str, ...] = ("push",)
    priority: str = "standard"
    records_per_invocation: float = 0.0  # 0: the template's batch size for the priority
    idempotency_key_share: float = 1.0
    transient_failure_rate: float = 0.0
    status_reads: float = 0.0
    cold_start_share: float = 0.01
    rate_per_second: float = 10.0
    kms_cache_holders: int = 12
    vendor_request_bytes: int = 2000
    api_response_bytes: int = 400
    bulk_size: int = 100
    # In-region latencies of the AWS calls the publish function waits for (typical, not measured).
    sns_publish_ms: float = 15.0
    sns_publish_batch_ms: float = 20.0
    dynamodb_ms: float = 5.0
    connections_post_ms: float = 10.0  # one @connections post
    # In-app: who has an app open when a notification arrives, and their inbox.
    inapp_online_share: float = 1.0  # of in-app notifications, the share whose recipient has an app open
    inapp_connections: float = 1.0  # open WebSocket connections of such a recipient
    inapp_unread_items: int = 10  # unread items, and unseen ones, that the counts read
    # Filled in from template.yaml and bench/results.json.
    publish_memory_mb: int = 0
    consumer_memory_mb: dict[str, int] = field(default_factory=dict)  # by channel
    batch_size: int = 0
    delivery_concurrency: int = 0
    measured: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    service: str
    what: str
    quantity: float  # per notification
    price: str  # a key of prices.json

    def usd_per_million(self, prices: dict[str, float]) -> float:
        return self.quantity * prices[self.price] * 1_000_000

    def shown(self) -> str:
        """The quantity in the unit a reader counts in: bytes rather than GB."""
        if self.price.endswith("_gb"):
            return f"{self.quantity * GB:.0f} B"
        if self.price.endswith("gb_second_arm64"):
            return f"{self.quantity:.4g} GB-s"
        return f"{self.quantity:.4g}"


# ------------------------------------------------------------------ inputs


def load_prices(path: Path = PRICES) -> tuple[dict[str, float], dict[str, Any]]:
    document = json.loads(path.read_text())
    return {name: float(p["usd"]) for name, p in document["prices"].items()}, document


def from_template(a: Assumptions) -> None:
    """Memory sizes, the batch size of the channels' queues (every consumer's queues share the
    template's CriticalBatchSize and StandardBatchSize) and DeliveryConcurrency, from template.yaml's
    defaults."""
    stack = Stack(load_template())
    a.publish_memory_mb = int(stack.function_properties("PublishFunction")["MemorySize"])
    sizes = set()
    for channel in a.channels:
        consumer = stack.function_properties(f"{channel.capitalize()}Function")
        a.consumer_memory_mb[channel] = int(consumer["MemorySize"])
        event = consumer["Events"]["Critical" if a.priority == "critical" else "Standard"]["Properties"]
        sizes.add(int(stack.resolve(event["BatchSize"])))
    if len(sizes) != 1:
        raise ValueError(f"the channels' queues have different batch sizes: {sorted(sizes)}")
    a.batch_size = sizes.pop()
    a.delivery_concurrency = int(stack.parameters["DeliveryConcurrency"])
    if not a.records_per_invocation:
        a.records_per_invocation = a.batch_size


def measured(results: dict[str, Any], a: Assumptions, key: str, name: str) -> float:
    """results[key][name], or the default (noted in `a.measured`)."""
    value = results.get(key, {})
    if isinstance(value, dict) and isinstance(value.get(name), int | float):
        a.measured[f"{key}.{name}"] = f"measured: {value[name]}"
        return float(value[name])
    default = DEFAULTS[key][name]
    a.measured[f"{key}.{name}"] = f"DEFAULT {default} (not in bench/results.json)"
    return default


# ------------------------------------------------------------------ the model


def _cpu_scale(memory_mb: int) -> float:
    return max(1.0, MB_PER_VCPU / memory_mb)


def _log_gb(events: float, app_bytes: float) -> float:
    return (app_bytes + events * LOG_EVENT_OVERHEAD_BYTES) / GB


def consumer_lines(a: Assumptions, results: dict[str, Any], channel: str) -> list[Line]:
    """The consumer's part of one notification on `channel`, once per attempt."""
    n = a.records_per_invocation
    attempts = 1 / (1 - a.transient_failure_rate)  # geometric: tries until one succeeds
    retries = attempts - 1
    if channel == "inapp":
        per_record_s, how = inapp_record_seconds(a, results)
    else:
        per_record_s = measured(results, a, "batch10_100ms_seconds", channel) / 10
        how = f"{per_record_s * 1000:.1f} ms a record"
    cold_s = measured(results, a, "cold_ms", channel) / 1000
    gb = a.consumer_memory_mb[channel] / 1024
    invocations = attempts / n
    emf_bytes = LOG_BYTES["sent_metric"] / n + LOG_BYTES["sent_metric_per_value"]
    log_events = invocations * (PLATFORM_EVENTS + 1) + 1 + retries  # platform + EMF; sent; failed
    log_bytes = (
        invocations * LOG_BYTES["platform"]
        + emf_bytes
        + LOG_BYTES["sent_line"]
        + retries * LOG_BYTES["transient_line"]
    )
    return [
        Line("SQS", "SendMessage by SNS (delivery to the queue)", 1, "sqs_request"),
        Line("SNS", "delivery to SQS", 1, "sns_delivery_to_sqs"),
        Line(
            "SQS",
            f"ReceiveMessage by the event source ({min(10, n):g} a call)",
            attempts / min(10, n),
            "sqs_request",
        ),
        Line("SQS", "DeleteMessageBatch by the event source", math.ceil(n / 10) / n, "sqs_request"),
        Line("SQS", "ChangeMessageVisibilityBatch (backoff of a failed record)", retries, "sqs_request"),
        Line("Lambda requests", f"{channel} invocation (batch of {n:g})", invocations, "lambda_request"),
        Line(
            "Lambda duration",
            f"{channel}: {how}",
            attempts * per_record_s * gb,
            "lambda_gb_second_arm64",
        ),
        Line(
            "Lambda duration",
            f"{channel}: cold starts",
            invocations * a.cold_start_share * cold_s * gb,
            "lambda_gb_second_arm64",
        ),
        Line(
            "DynamoDB",
            "BatchGetItem recipient, eventually consistent",
            attempts * 0.5,
            "dynamodb_read_request_unit",
        ),
        Line("DynamoDB", "UpdateItem lease (QUEUED) + SENT", attempts + 1, "dynamodb_write_request_unit"),
        Line("DynamoDB", "UpdateItem record_error (failed attempts)", retries, "dynamodb_write_request_unit"),
        *(
            inapp_lines(a, attempts)
            if channel == "inapp"
            else [
                Line(
                    "Data transfer out",
                    f"request to the {channel} vendor",
                    attempts * a.vendor_request_bytes / GB,
                    "data_transfer_out_gb",
                )
            ]
        ),
        Line(
            "CloudWatch Logs",
            f"{channel} lines, EMF, platform",
            _log_gb(log_events, log_bytes),
            "cloudwatch_logs_ingestion_gb",
        ),
    ]


def inapp_record_seconds(a: Assumptions, results: dict[str, Any]) -> tuple[float, str]:
    """Billed seconds of one in-app record, and how they were reached (see the module's docstring)."""
    n = a.records_per_invocation
    online = a.inapp_online_share
    # In sequence for one record: lease, PutItem, the connections, [two counts, DELIVERED, the item's
    # delivered mark: only when someone is connected], SENT; the two frames to each connection (the
    # connections at once).
    calls = 4 + 4 * online
    chain_ms = calls * a.dynamodb_ms + 2 * online * a.connections_post_ms
    rounds = math.ceil(n / a.delivery_concurrency)
    cpu_ms = measured(results, a, "inapp_cpu_ms_per_record", "inapp")
    scale = _cpu_scale(a.consumer_memory_mb["inapp"])
    per_record_ms = (a.dynamodb_ms + chain_ms * rounds) / n + cpu_ms * scale  # + the batch's BatchGetItem
    how = (
        f"{per_record_ms:.1f} ms a record (modelled: {calls:g} DynamoDB calls and "
        f"{2 * online:g} posts in sequence, {a.delivery_concurrency} records at once; "
        f"{cpu_ms:g} ms CPU x {scale:.2f})"
    )
    return per_record_ms / 1000, how


def inapp_lines(a: Assumptions, attempts: float) -> list[Line]:
    """The in-app consumer's own part of one notification (see the module's docstring)."""
    item_units = math.ceil(INBOX_ITEM_BYTES / KB)  # write units of the item, and of each index entry
    writes = (1 + INBOX_NEW_ITEM_INDEXES) * item_units
    count_reads = 0.5 * max(1, math.ceil(a.inapp_unread_items * INBOX_ITEM_BYTES / (4 * KB)))
    online, connections = a.inapp_online_share, a.inapp_connections
    return [
        Line(
            "DynamoDB",
            f"inbox PutItem (conditional) + its {INBOX_NEW_ITEM_INDEXES} local index entries",
            attempts * writes,
            "dynamodb_write_request_unit",
        ),
        Line(
            "DynamoDB",
            f"Query unread + unseen counts ({a.inapp_unread_items} items each, eventually consistent; "
            f"{online:.0%} online: read only for a connected recipient's frame)",
            online * 2 * count_reads,
            "dynamodb_read_request_unit",
        ),
        Line("DynamoDB", "Query the recipient's connections", attempts * 0.5, "dynamodb_read_request_unit"),
        Line(
            "DynamoDB",
            f"UpdateItem DELIVERED, and the item delivered + its index entries ({online:.0%} online)",
            online * (1 + writes),
            "dynamodb_write_request_unit",
        ),
        Line(
            "API Gateway",
            f"WebSocket messages: 2 frames x {connections:g} connection(s) ({online:.0%} online)",
            online * 2 * connections,
            "apigateway_websocket_message",
        ),
        Line(
            "Data transfer out",
            "frames to the open apps",
            online * connections * INAPP_FRAME_BYTES / GB,
            "data_transfer_out_gb",
        ),
    ]


def kms_line(a: Assumptions) -> Line:
    requests_per_hour = a.kms_cache_holders * 12  # each cached key refreshed every 5 minutes
    per_notification = requests_per_hour / (a.rate_per_second * 3600)
    return Line(
        "KMS",
        f"{a.kms_cache_holders} cached keys, 12 calls an hour each, at {a.rate_per_second:g}/s",
        per_notification,
        "kms_request",
    )


def status_read_lines(a: Assumptions, results: dict[str, Any]) -> list[Line]:
    """GET /event/{id}: API Gateway, a publish invocation, one strongly consistent Query."""
    if not a.status_reads:
        return []
    gb = a.publish_memory_mb / 1024
    ms = math.ceil(2 * _cpu_scale(a.publish_memory_mb) + a.dynamodb_ms)  # about 2 ms of CPU, a guess
    r = a.status_reads
    return [
        Line("API Gateway", "GET /event/{id}", r, "apigateway_rest_request"),
        Line("Lambda requests", "publish: GET /event/{id}", r, "lambda_request"),
        Line(
            "Lambda duration",
            f"publish: GET /event/{{id}}, {ms} ms",
            r * ms / 1000 * gb,
            "lambda_gb_second_arm64",
        ),
        Line("DynamoDB", "Query status, strongly consistent", r, "dynamodb_read_request_unit"),
        Line(
            "CloudWatch Logs",
            "platform lines of the GET",
            _log_gb(r * 3, r * LOG_BYTES["platform"]),
            "cloudwatch_logs_ingestion_gb",
        ),
        Line("Data transfer out", "GET answer", r * 800 / GB, "data_transfer_out_gb"),
    ]


def request_lines(a: Assumptions, results: dict[str, Any], calls_ms: float) -> list[Line]:
    """What one POST /event costs whatever is done with its event: API Gateway, the publish function
    (its CPU per event measured by bench.publish_cost, plus `calls_ms` of AWS calls it waits for in
    sequence, besides the idempotency records'), the Idempotency-Key's two writes, the answer, its
    logs and KMS."""
    k = a.idempotency_key_share
    cpu_ms = (1 - k) * measured(results, a, "publish_cpu_ms_per_event", "single") + k * measured(
        results, a, "publish_cpu_ms_per_event", "single_idempotent"
    )
    wait_ms = calls_ms + a.dynamodb_ms * 2 * k  # idempotency x2
    publish_ms = math.ceil(cpu_ms * _cpu_scale(a.publish_memory_mb) + wait_ms)  # billed per whole ms
    how = f"{cpu_ms:.1f} ms CPU x {_cpu_scale(a.publish_memory_mb):.2f} + {wait_ms:g} ms AWS calls"
    cold_s = measured(results, a, "cold_ms", "publish") / 1000
    gb = a.publish_memory_mb / 1024
    app_bytes = LOG_BYTES["publish_line"] + LOG_BYTES["published_metric"] + LOG_BYTES["events_metric"]
    return [
        Line("API Gateway", "POST /event", 1, "apigateway_rest_request"),
        Line("Lambda requests", "publish invocation", 1, "lambda_request"),
        Line(
            "Lambda duration",
            f"publish: {publish_ms} ms ({how})",
            publish_ms / 1000 * gb,
            "lambda_gb_second_arm64",
        ),
        Line(
            "Lambda duration",
            "publish: cold starts",
            a.cold_start_share * cold_s * gb,
            "lambda_gb_second_arm64",
        ),
        Line(
            "DynamoDB",
            "idempotency PutItem (in progress) + UpdateItem (answer)",
            2 * k,
            "dynamodb_write_request_unit",
        ),
        Line("Data transfer out", "API answer", a.api_response_bytes / GB, "data_transfer_out_gb"),
        Line(
            "CloudWatch Logs",
            "publish line, EMF, platform",
            _log_gb(3 + PLATFORM_EVENTS, app_bytes + LOG_BYTES["platform"]),
            "cloudwatch_logs_ingestion_gb",
        ),
        kms_line(a),
    ]


def published_lines(a: Assumptions) -> list[Line]:
    """What publishing one notification to SNS adds (notifier/api/sns_publisher.py, `Publisher.publish`):
    the Publish, then ACCEPTED for each channel."""
    return [
        Line("SNS", "Publish (one 64 KB chunk)", 1, "sns_publish"),
        Line(
            "DynamoDB", "UpdateItem ACCEPTED, one per channel", len(a.channels), "dynamodb_write_request_unit"
        ),
    ]


def delivery_lines(a: Assumptions, results: dict[str, Any]) -> list[Line]:
    """Each channel's consumer delivering one notification (`consumer_lines`)."""
    return [line for channel in a.channels for line in consumer_lines(a, results, channel)]


def single_event_lines(a: Assumptions, results: dict[str, Any]) -> list[Line]:
    calls_ms = a.sns_publish_ms + a.dynamodb_ms * len(a.channels)  # Publish, ACCEPTED each
    return [
        *published_lines(a),
        *request_lines(a, results, calls_ms),
        *delivery_lines(a, results),
        *status_read_lines(a, results),
    ]


def bulk_lines(a: Assumptions, results: dict[str, Any], envelope_bytes: int = 1200) -> list[Line]:
    """POST /events/bulk with `bulk_size` events, per event (notifier/api/sns_publisher.py: PublishBatch of
    10, 4 calls at once, each call's ACCEPTED writes after it)."""
    n = a.bulk_size
    k = a.idempotency_key_share
    calls = math.ceil(n / 10)
    rounds = math.ceil(calls / 4)
    cpu_ms = measured(results, a, "publish_cpu_ms_per_event", "bulk") * n
    wait_ms = rounds * (a.sns_publish_batch_ms + 10 * len(a.channels) * a.dynamodb_ms) + 2 * k * a.dynamodb_ms
    publish_ms = math.ceil(cpu_ms * _cpu_scale(a.publish_memory_mb) + wait_ms)
    cold_s = measured(results, a, "cold_ms", "publish") / 1000
    gb = a.publish_memory_mb / 1024
    answer_bytes = 80 * n + 300  # {"index":..,"event_id":"<uuid>","status":"SUCCESS"} each
    answer_kb = math.ceil(answer_bytes / KB)  # write units of the idempotency record's answer
    chunks_per_call = math.ceil(10 * envelope_bytes / CHUNK_BYTES)
    app_bytes = n * LOG_BYTES["publish_line"] + LOG_BYTES["published_metric"] + LOG_BYTES["events_metric"]
    return [
        Line("API Gateway", f"POST /events/bulk, 1/{n}", 1 / n, "apigateway_rest_request"),
        Line("Lambda requests", f"publish invocation, 1/{n}", 1 / n, "lambda_request"),
        Line(
            "Lambda duration",
            f"publish: {publish_ms} ms a request of {n}",
            publish_ms / 1000 * gb / n,
            "lambda_gb_second_arm64",
        ),
        Line(
            "Lambda duration",
            "publish: cold starts",
            a.cold_start_share * cold_s * gb / n,
            "lambda_gb_second_arm64",
        ),
        Line(
            "SNS",
            f"PublishBatch of 10 ({chunks_per_call} chunk a call)",
            chunks_per_call * calls / n,
            "sns_publish",
        ),
        Line(
            "DynamoDB", "UpdateItem ACCEPTED, one per channel", len(a.channels), "dynamodb_write_request_unit"
        ),
        Line(
            "DynamoDB",
            f"idempotency PutItem + UpdateItem ({answer_kb} KB answer)",
            k * (1 + answer_kb) / n,
            "dynamodb_write_request_unit",
        ),
        Line("Data transfer out", "API answer", answer_bytes / GB / n, "data_transfer_out_gb"),
        Line(
            "CloudWatch Logs",
            "publish lines, EMF, platform",
            _log_gb((n + 2 + PLATFORM_EVENTS) / n, (app_bytes + LOG_BYTES["platform"]) / n),
            "cloudwatch_logs_ingestion_gb",
        ),
        kms_line(a),
        *(line for channel in a.channels for line in consumer_lines(a, results, channel)),
        *status_read_lines(a, results),
    ]


def fixed_monthly(prices: dict[str, float], custom_metrics: int = 40) -> dict[str, float]:
    """What the stack costs a month whatever the volume (rough; not in the per-million figures)."""
    stack = Stack(load_template())
    queues = sum(
        event["Type"] == "SQS"
        for function in stack.resources_of_type("AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
    )
    own_secrets = len(stack.resources_of_type("AWS::SecretsManager::Secret"))
    idle_receives = queues * 5 * 3 * 60 * 24 * 30  # about 5 pollers a queue, a 20 s long poll
    return {
        "kms_key": 1.0,
        f"custom_metrics (about {custom_metrics} EMF series)": custom_metrics
        * prices["cloudwatch_custom_metric_month"],
        f"idle_sqs_polling ({queues} queues x ~5 pollers)": idle_receives * prices["sqs_request"],
        f"secrets (3 vendor credentials when configured, the stack's own {own_secrets})": (3 + own_secrets)
        * 0.40,
    }


def channel_totals(a: Assumptions, results: dict[str, Any], prices: dict[str, float]) -> dict[str, float]:
    """USD per million notifications of one POST /event to each channel alone, as assumed in `a`."""
    totals = {}
    for channel in CHANNELS:
        alone = replace(a, channels=(channel,), consumer_memory_mb={}, measured=dict(a.measured))
        from_template(alone)
        totals[channel] = sum(by_service(single_event_lines(alone, results), prices).values())
        a.measured.update(alone.measured)
    return totals


# ------------------------------------------------------------------ output


def by_service(lines: list[Line], prices: dict[str, float]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for line in lines:
        totals[line.service] += line.usd_per_million(prices)
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def print_table(title: str, lines: list[Line], prices: dict[str, float]) -> float:
    print(title)
    print(f"  {'service':18} {'per notification':>16}  {'USD / million':>13}  what")
    for line in sorted(lines, key=lambda x: (x.service, -x.usd_per_million(prices))):
        if line.quantity:
            print(
                f"  {line.service:18} {line.shown():>16}  {line.usd_per_million(prices):13.4f}  {line.what}"
            )
    services = by_service(lines, prices)
    total = sum(services.values())
    print("  " + "-" * 70)
    for service, usd in services.items():
        print(f"  {service:18} {'':16}  {usd:13.4f}  {100 * usd / total:4.1f}%")
    print(f"  {'TOTAL':18} {'':16}  {total:13.4f}")
    print()
    return total


def _digest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--burst",
        type=int,
        action="append",
        help="digests: events of one digest key within its window (again for more; default 1, 5, 20)",
    )
    parser.add_argument("--headline-burst", type=int, default=5, help="digests: the burst recorded")
    parser.add_argument(
        "--due-records-per-invocation", type=float, default=1.0, help="digests: flushes a due invocation"
    )


def digests_cost(
    args: argparse.Namespace, a: Assumptions, results: dict[str, Any], prices: dict[str, float]
) -> dict[str, Any]:
    """The LIKE-heavy mix with digests off and on (bench.digest_cost): printed, and what is recorded
    as `cost_digests`."""
    from bench import digest_cost  # noqa: PLC0415 - it builds on this module

    return digest_cost.run(
        a,
        digest_cost.DigestAssumptions(
            bursts=tuple(args.burst or digest_cost.BURSTS),
            headline_burst=args.headline_burst,
            due_records_per_invocation=args.due_records_per_invocation,
        ),
        results,
        prices,
        records_per_invocation=args.records_per_invocation,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--channel",
        choices=CHANNELS,
        action="append",
        help="a channel of the notification (again for more: push and inapp for a LIKE; default push)",
    )
    parser.add_argument("--priority", choices=["critical", "standard"], default="standard")
    parser.add_argument(
        "--records-per-invocation",
        type=float,
        default=0,
        help="records in a consumer's batch (default: the template's batch size, i.e. full batches)",
    )
    parser.add_argument("--idempotency-key-share", type=float, default=1.0)
    parser.add_argument("--transient-failure-rate", type=float, default=0.0)
    parser.add_argument("--status-reads", type=float, default=0.0, help="GET /event/{id} per notification")
    parser.add_argument("--cold-start-share", type=float, default=0.01)
    parser.add_argument("--rate", type=float, default=10.0, help="notifications a second (for KMS)")
    parser.add_argument("--vendor-request-bytes", type=int, default=2000)
    parser.add_argument("--inapp-online-share", type=float, default=1.0)
    parser.add_argument("--inapp-connections", type=float, default=1.0)
    parser.add_argument("--inapp-unread-items", type=int, default=10)
    _digest_arguments(parser)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not 0 <= args.transient_failure_rate < 1:
        parser.error("--transient-failure-rate must be in [0, 1)")

    a = Assumptions(
        channels=tuple(dict.fromkeys(args.channel or ["push"])),
        priority=args.priority,
        records_per_invocation=args.records_per_invocation,
        idempotency_key_share=args.idempotency_key_share,
        transient_failure_rate=args.transient_failure_rate,
        status_reads=args.status_reads,
        cold_start_share=args.cold_start_share,
        rate_per_second=args.rate,
        vendor_request_bytes=args.vendor_request_bytes,
        inapp_online_share=args.inapp_online_share,
        inapp_connections=args.inapp_connections,
        inapp_unread_items=args.inapp_unread_items,
    )
    from_template(a)
    prices, document = load_prices()
    results = load()

    print(
        f"prices: {PRICES.name}, {document['region']}, {document['architecture']}, list prices as of "
        f"{document['as_of']} (not fetched here: check them), no free tier"
    )
    memory = ", ".join(f"{c} {mb} MB" for c, mb in a.consumer_memory_mb.items())
    print(
        f"a notification: POST /event -> {' + '.join(a.channels)} ({a.priority}), batches of "
        f"{a.records_per_invocation:g} (BatchSize {a.batch_size}), memory publish "
        f"{a.publish_memory_mb} MB / {memory}, Idempotency-Key on "
        f"{a.idempotency_key_share:.0%}, transient failures {a.transient_failure_rate:.0%}, "
        f"{a.status_reads:g} status reads, {a.cold_start_share:.1%} cold starts"
    )
    if "inapp" in a.channels:
        print(
            f"in-app: {a.inapp_online_share:.0%} of recipients with an app open, "
            f"{a.inapp_connections:g} connection(s) each, {a.inapp_unread_items} unread and unseen items"
        )
    print()
    single = single_event_lines(a, results)
    bulk = bulk_lines(a, results)
    total = print_table("POST /event, one notification: per million notifications", single, prices)
    bulk_total = print_table(
        f"POST /events/bulk with {a.bulk_size} events: per million notifications", bulk, prices
    )
    by_channel = channel_totals(a, results, prices)
    print("POST /event to one channel alone, per million notifications (same assumptions):")
    for channel, usd in by_channel.items():
        print(f"  {channel:18} {'':16}  {usd:13.4f}")
    print()
    print("inputs:")
    for key, source in sorted(a.measured.items()):
        print(f"  {key:40} {source}")
    fixed = fixed_monthly(prices)
    print("fixed, per month, whatever the volume (not above):")
    for name, usd in fixed.items():
        print(f"  {name:50} {usd:7.2f}")
    print()
    digests = digests_cost(args, a, results, prices)

    if args.no_write:
        return
    assumptions = asdict(a)
    assumptions["log_bytes"] = LOG_BYTES
    assumptions["prices"] = f"bench/prices.json, {document['region']}, as of {document['as_of']}, not fetched"
    assumptions["fixed_usd_per_month"] = {k: round(v, 2) for k, v in fixed.items()}
    record(
        {
            "cost_usd_per_million": round(total, 4),
            "cost_breakdown_usd_per_million": {k: round(v, 4) for k, v in by_service(single, prices).items()},
            "cost_bulk100_usd_per_million": round(bulk_total, 4),
            "cost_bulk100_breakdown_usd_per_million": {
                k: round(v, 4) for k, v in by_service(bulk, prices).items()
            },
            "cost_by_channel_usd_per_million": {k: round(v, 4) for k, v in by_channel.items()},
            "cost_assumptions": assumptions,
            "cost_digests": digests,
        }
    )


if __name__ == "__main__":
    main()
