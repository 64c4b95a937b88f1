"""What digests do to the cost: a LIKE-heavy mix of events, per million events, digests off and on.

The mix (`MIX`): of the events POSTed to /event, 80% LIKE, 10% COMMENT, 5% FOLLOW, 5% MESSAGE, each
routed as layers/common/notifier/api/routing_rules.json says (read here: LIKE to push + in-app,
standard, digested per recipient and post, 600 s windows; COMMENT to push + e-mail + in-app, standard;
FOLLOW to push + e-mail + in-app, standard, digested per recipient, 600 s, `leading`: the window's first
event is sent at once; MESSAGE to push + SMS + in-app, critical, never digested).

The burst shape (`BURSTS`): the digested events of one key arrive `N` to a window: N LIKEs on one
post, N FOLLOWs of one recipient, within the 10 minutes (N = 1, 5, 20; the headline uses N = 5, a
post with a few likes in ten minutes; N = 1 is the worst case for digests, every window holding a
single event, and 20 a popular post's). Every window holds exactly N events, each arriving after the
one before has been gathered (no two racing for the same window: a lost race costs one more round
of reads and writes, not counted), and N is at most DigestMaxEvents (template.yaml), so no window
fills up and is flushed early.

- **Digests off** (the stack before digests, or every event critical; not a switch of the template):
  every event is one notification, published at once: what bench.cost counts for a POST /event to its
  channels (`cost.single_event_lines`, the event type's channels and priority).
- **Digests on**: a COMMENT or a MESSAGE is as above. A LIKE or a FOLLOW pays the same request
  (`cost.request_lines`: API Gateway, the publish function, the Idempotency-Key's records, the answer,
  logs, KMS) but instead of the Publish and its ACCEPTED writes, the digest's own calls
  (`window_calls`, counted from notifier/scheduling/digests.py and notifier/stores/digests.py):
  per event the HEAD read (GetItem, strongly consistent); the window's first event queues the flush
  (SQS SendMessage to the due queue) and opens the window (TransactWriteItems: HEAD's Update and the
  window's Put, each billed twice as a transactional write); each later one joins it (UpdateItem) and
  adds its actor's name (a second UpdateItem, which costs its write units even when the name is not
  added: a failed conditional write is billed); each digested event's status is DIGESTED (one
  UpdateItem per channel, notifier/stores/status.py). FOLLOW's first event is instead published at
  once (Publish, ACCEPTED, delivered). Per window: the due queue's event source receives and deletes
  the flush, the due function is invoked and claims the window (UpdateItem), publishes the digest (one
  Publish, ACCEPTED per channel) and finishes it (UpdateItem); a FOLLOW window whose only event was
  the leading one ends EMPTY (claim and finish, nothing sent). The digest is then delivered on each
  channel as any notification (`cost.delivery_lines`). The due function takes one flush an invocation
  (`--due-records-per-invocation`; flushes come as their windows close, one by one: the costlier
  side), its records one after another.

DynamoDB's write units follow the window item's size (the larger of before and after each write, per
KB): the HEAD item, the window (fixed part, then each event id and each of the first
DIGEST_MAX_ACTORS actor names) and the status rows are sized as DynamoDB sizes the items the code
writes for the sample LIKE and FOLLOW (`SAMPLE_PAYLOAD`, an actor name of `ACTOR_NAME_CHARS`).
The window keeps every event's id, so it passes 1 KB at about 12 events and each later join and name
write costs more: past about 35 events a window the cost per event rises again (N = 100: $13.41
per million events of the mix, against $12.62 at 20).

What is counted and what is modelled: the calls are MODELLED from the code, as the rest of bench.cost
(nothing here runs the code); tests/unit/bench/test_digest_cost.py runs the real Digests against
moto for bursts of 1, 5 and 20 and checks every call and write unit of `window_calls` against what
the code does. The publish function's CPU for a digested event is the measured one of an event
published at once (bench.publish_cost; same parsing, validation and routing, other calls: not
measured on the digest path), plus its calls' in-region latencies; the due function's CPU per flush
(`due_cpu_ms_per_flush`) and its cold start are DEFAULTs (neither is measured by a bench module), and
its log lines are estimated (`DUE_LOG_BYTES`); the digested event's log line is taken as the size of
the published one. KMS: one more cached key (the digests table's). A notification sent is one SNS
message (an event sent alone, or a digest), counted once whatever its channels (`deliveries`: one
per channel).

Prints the mix's cost per million events, the notifications sent per million events and the cost per
million sent, for each N, the breakdown by service for the headline, and one window's calls; merges
`cost_digests` into bench/results.json (run by bench.cost, whose options it shares).

    .venv/bin/python -m bench.cost [--burst 1 --burst 5 --burst 20] [--headline-burst 5]
        [--due-records-per-invocation 1]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from bench.cost import (
    KB,
    LOG_BYTES,
    PLATFORM_EVENTS,
    Assumptions,
    Line,
    _cpu_scale,
    _log_gb,
    by_service,
    delivery_lines,
    from_template,
    measured,
    request_lines,
    single_event_lines,
    status_read_lines,
)
from bench.report import DIGEST_BURSTS
from devstack.template import REPO_ROOT, Stack, load_template

RULES_FILE = REPO_ROOT / "layers" / "common" / "notifier" / "api" / "routing_rules.json"
MIX = {"LIKE": 0.80, "COMMENT": 0.10, "FOLLOW": 0.05, "MESSAGE": 0.05}
"""Shares of the events POSTed: LIKE-heavy."""
BURSTS = DIGEST_BURSTS
"""Events of one digest key within its window (LIKEs on one post, FOLLOWs of one recipient)."""
HEADLINE_BURST = 5

# Item sizes as DynamoDB counts them (attribute names and values; a list's 3 bytes and 1 a value),
# of the items the code writes for SAMPLE_PAYLOAD (tests/unit/bench/test_digest_cost.py checks them
# against the items written in moto).
SAMPLE_PAYLOAD = {
    "parent_id": "post_67890",
    "parent_type": "post",
    "timestamp": "2023-10-15T12:34:56Z",
}
"""events/api_publish_event.json's payload, standard priority, plus an `actor_name`."""
SAMPLE_RECIPIENT = "user_12345"
ACTOR_NAME_CHARS = 12
DIGEST_HEAD_BYTES = 135
"""The key's HEAD item (pk, sk, window_id, expires_at)."""
DIGEST_WINDOW_BYTES = {"LIKE": 479, "FOLLOW": 489}
"""A window before any event: keys, state, times, count, the empty lists, and `about` (recipient,
type, priority, channels, correlation id, the first event's payload)."""
DIGEST_EVENT_BYTES = 37
"""Each event id in the window's `event_ids` (a UUID and its list byte)."""
DIGEST_ACTOR_BYTES = ACTOR_NAME_CHARS + 1
"""Each actor name in the window's `actors` (at most DIGEST_MAX_ACTORS)."""
DIGEST_MAX_ACTORS = 10
"""notifier/models/envelope.py: the names a window keeps."""
DIGEST_LEADING_BYTES = 52
"""`leading_event_id`, on a window whose first event was sent at once."""
DIGEST_LEASE_BYTES = 21
"""What the claim adds: FLUSHING rather than OPEN, and `lease_until`."""
STATUS_ROW_BYTES = 270
"""A status row, DIGESTED or ACCEPTED (notifier/stores/status.py)."""

DUE_LOG_BYTES = {
    "handled_line": 450,  # "due message handled", one per flush (estimated, not measured)
    "digest_line": 520,  # "digest sent", one per digest (estimated from "notification published")
}


@dataclass(frozen=True)
class Rule:
    """An event type's route in routing_rules.json."""

    channels: tuple[str, ...]
    priority: str
    window_seconds: int | None = None
    key: tuple[str, ...] = ()
    leading: bool = False

    @property
    def digested(self) -> bool:
        """A critical event is never digested (notifier/api/routing.py)."""
        return self.window_seconds is not None and self.priority != "critical"


def routing_rules() -> dict[str, Rule]:
    raw = json.loads(RULES_FILE.read_text())
    raw.pop("_comment", None)
    return {
        event_type: Rule(
            channels=tuple(rule["channels"]),
            priority=rule["priority"],
            window_seconds=rule["digest"]["window_seconds"] if "digest" in rule else None,
            key=tuple(rule.get("digest", {}).get("key", ())),
            leading=rule.get("digest", {}).get("leading", False),
        )
        for event_type, rule in raw.items()
    }


@dataclass
class DigestAssumptions:
    mix: dict[str, float] = field(default_factory=lambda: dict(MIX))
    bursts: tuple[int, ...] = BURSTS
    headline_burst: int = HEADLINE_BURST
    actor_names: bool = True  # every digested event names its actor (payload.actor_name)
    due_records_per_invocation: float = 1.0  # flushes come one by one: each closes its own window
    # In-region latencies the publish and due functions wait for (typical, not measured).
    sqs_send_ms: float = 10.0
    transact_write_ms: float = 15.0
    # Filled in from template.yaml.
    max_events: int = 0
    due_memory_mb: int = 0
    due_batch_size: int = 0


def from_template_digests(d: DigestAssumptions) -> None:
    stack = Stack(load_template())
    due = stack.function_properties("DueFunction")
    d.due_memory_mb = int(due["MemorySize"])
    d.due_batch_size = int(stack.resolve(due["Events"]["Due"]["Properties"]["BatchSize"]))
    d.max_events = int(stack.parameters["DigestMaxEvents"])


# ------------------------------------------------------------------ one window, from the code


@dataclass(frozen=True)
class Call:
    """AWS calls the code makes for one window: `count` calls of `operation` ("service.Operation",
    and the table for DynamoDB), costing `units` request units in all (DynamoDB's write units, or read
    units for a GetItem; 0 for the other services)."""

    side: str  # "publish" (the events' requests) or "due" (the window's flush)
    operation: str
    what: str
    count: int
    units: int = 0


def _kb(size: float) -> int:
    return max(1, math.ceil(size / KB))


def window_calls(event_type: str, rule: Rule, n: int, d: DigestAssumptions) -> list[Call]:
    """The calls of one window of `n` events of one key (see the module's docstring)."""
    if not 1 <= n <= d.max_events:
        raise ValueError(f"a burst of {n}: 1 to DigestMaxEvents ({d.max_events}) events a window")
    channels = len(rule.channels)
    status_units = _kb(STATUS_ROW_BYTES)
    size = DIGEST_WINDOW_BYTES[event_type] + (DIGEST_LEADING_BYTES if rule.leading else 0)
    events = actors = 0
    if not rule.leading:  # the opener's event is in the window it writes
        events, actors = 1, int(d.actor_names)
    size += events * DIGEST_EVENT_BYTES + actors * DIGEST_ACTOR_BYTES
    opened = size  # the window as the opener puts it
    joins = n - 1
    join_units = name_units = 0
    for _ in range(joins):
        size += DIGEST_EVENT_BYTES
        events += 1
        join_units += _kb(size)
        if d.actor_names:
            if actors < DIGEST_MAX_ACTORS:
                size += DIGEST_ACTOR_BYTES
                actors += 1
            name_units += _kb(size)  # billed whether the name is added or not
    digested = n - 1 if rule.leading else n
    claimed = size + DIGEST_LEASE_BYTES
    calls = [
        Call(
            "publish",
            "dynamodb.GetItem digests",
            "GetItem HEAD (strongly consistent)",
            n,
            n * max(1, math.ceil(DIGEST_HEAD_BYTES / (4 * KB))),
        ),
        Call("publish", "sqs.SendMessage due", "SendMessage the window's flush (opener)", 1),
        Call(
            "publish",
            "dynamodb.TransactWriteItems digests",
            "TransactWriteItems open: HEAD Update + window Put, x2 (opener)",
            1,
            2 * _kb(DIGEST_HEAD_BYTES) + 2 * _kb(opened),
        ),
        Call("publish", "dynamodb.UpdateItem digests", "UpdateItem join", joins, join_units),
    ]
    if d.actor_names:
        calls.append(
            Call(
                "publish", "dynamodb.UpdateItem digests", "UpdateItem actor name (joiners)", joins, name_units
            )
        )
    calls.append(
        Call(
            "publish",
            "dynamodb.UpdateItem status",
            f"UpdateItem DIGESTED x {channels} channels",
            digested * channels,
            digested * channels * status_units,
        )
    )
    if rule.leading:
        calls += [
            Call("publish", "sns.Publish", "Publish the leading event", 1),
            Call(
                "publish",
                "dynamodb.UpdateItem status",
                f"UpdateItem ACCEPTED x {channels} (leading event)",
                channels,
                channels * status_units,
            ),
        ]
    sends = events > 0
    calls.append(Call("due", "dynamodb.UpdateItem digests", "UpdateItem claim (FLUSHING)", 1, _kb(claimed)))
    if sends:
        calls += [
            Call("due", "sns.Publish", "Publish the digest", 1),
            Call(
                "due",
                "dynamodb.UpdateItem status",
                f"UpdateItem ACCEPTED x {channels} (digest)",
                channels,
                channels * status_units,
            ),
        ]
    calls.append(
        Call(
            "due",
            "dynamodb.UpdateItem digests",
            f"UpdateItem finish ({'SENT' if sends else 'EMPTY'})",
            1,
            _kb(claimed),
        )
    )
    return calls


def sent_per_window(rule: Rule, n: int) -> int:
    """Notifications sent for a window of `n`: its digest; with `leading`, the first event alone and
    a digest of the others, if there are others (notifier/scheduling/digests.py: EMPTY otherwise)."""
    if rule.leading:
        return 2 if n > 1 else 1
    return 1


# ------------------------------------------------------------------ lines


_PRICES = {
    "dynamodb.GetItem": "dynamodb_read_request_unit",
    "dynamodb": "dynamodb_write_request_unit",
    "sqs": "sqs_request",
    "sns": "sns_publish",
}
_SERVICES = {"dynamodb": "DynamoDB", "sqs": "SQS", "sns": "SNS"}


def call_lines(calls: Iterable[Call], per: float) -> list[Line]:
    """The calls as lines, each divided by `per` (events of the window)."""
    lines = []
    for call in calls:
        service = call.operation.split(".")[0]
        operation = call.operation.split()[0]
        price = _PRICES.get(operation, _PRICES[service])
        quantity = call.units if service == "dynamodb" else call.count
        if quantity:
            lines.append(Line(_SERVICES[service], f"digest: {call.what}", quantity / per, price))
    return lines


def due_lines(
    a: Assumptions, d: DigestAssumptions, results: dict[str, Any], rule: Rule, sends: bool
) -> list[Line]:
    """The due queue's event source and the due function, for one flush (notifier/scheduling/handler.py:
    the records of a batch one after another)."""
    r = d.due_records_per_invocation
    if not 1 <= r <= d.due_batch_size:
        raise ValueError(f"{r:g} flushes an invocation: 1 to the due queue's BatchSize ({d.due_batch_size})")
    cpu_ms = measured(results, a, "due_cpu_ms_per_flush", "due")
    wait_ms = a.dynamodb_ms * 2 + (a.sns_publish_ms + a.dynamodb_ms * len(rule.channels) if sends else 0)
    record_ms = cpu_ms * _cpu_scale(d.due_memory_mb) + wait_ms
    invocation_ms = math.ceil(r * record_ms)  # billed per whole ms
    gb = d.due_memory_mb / 1024
    cold_s = measured(results, a, "cold_ms", "due") / 1000
    app_bytes = DUE_LOG_BYTES["handled_line"] + (
        DUE_LOG_BYTES["digest_line"] + LOG_BYTES["publish_line"] + LOG_BYTES["published_metric"]
        if sends
        else 0
    )
    app_events = 1 + (3 if sends else 0)
    return [
        Line("SQS", "due: ReceiveMessage by the event source", 1 / min(10, r), "sqs_request"),
        Line("SQS", "due: DeleteMessageBatch by the event source", math.ceil(r / 10) / r, "sqs_request"),
        Line("Lambda requests", f"due invocation (batch of {r:g})", 1 / r, "lambda_request"),
        Line(
            "Lambda duration",
            f"due: {invocation_ms / r:.1f} ms a flush ({cpu_ms:g} ms CPU x "
            f"{_cpu_scale(d.due_memory_mb):.2f} + {wait_ms:g} ms AWS calls)",
            invocation_ms / 1000 * gb / r,
            "lambda_gb_second_arm64",
        ),
        Line(
            "Lambda duration",
            "due: cold starts",
            a.cold_start_share * cold_s * gb / r,
            "lambda_gb_second_arm64",
        ),
        Line(
            "CloudWatch Logs",
            "due lines, EMF, platform",
            _log_gb(app_events + PLATFORM_EVENTS / r, app_bytes + LOG_BYTES["platform"] / r),
            "cloudwatch_logs_ingestion_gb",
        ),
    ]


def _scaled(lines: Iterable[Line], factor: float, prefix: str = "") -> list[Line]:
    return [Line(x.service, prefix + x.what, x.quantity * factor, x.price) for x in lines]


def digested_event_lines(
    event_type: str, a: Assumptions, d: DigestAssumptions, results: dict[str, Any], *, rule: Rule, n: int
) -> tuple[list[Line], float]:
    """One event of a window of `n` (on average over the window), and the notifications sent per
    event."""
    calls = window_calls(event_type, rule, n, d)
    channels = len(rule.channels)
    # What the publish function waits for, in sequence. The opener: HEAD, the flush, the transaction,
    # then DIGESTED for each channel (leading: the Publish, then ACCEPTED for each). The others: HEAD,
    # join, name, DIGESTED for each channel.
    opener_ms = a.dynamodb_ms * (1 + channels) + d.sqs_send_ms + d.transact_write_ms
    opener_ms += a.sns_publish_ms if rule.leading else 0
    joiner_ms = a.dynamodb_ms * (2 + int(d.actor_names) + channels)  # HEAD, join, name, DIGESTED
    sent = sent_per_window(rule, n)
    digest_sends = sent - (1 if rule.leading else 0)
    lines = [
        *_scaled(request_lines(a, results, opener_ms), 1 / n, "opener: "),
        *_scaled(request_lines(a, results, joiner_ms), (n - 1) / n, "joiner: "),
        *status_read_lines(a, results),
        *call_lines(calls, n),
        *_scaled(due_lines(a, d, results, rule, digest_sends > 0), 1 / n),
        *_scaled(delivery_lines(a, results), sent / n, "delivery: "),
    ]
    return lines, sent / n


def type_assumptions(a: Assumptions, rule: Rule, records_per_invocation: float, digests: bool) -> Assumptions:
    """`a` for an event of `rule`: its channels and priority, the template's batch size for them (or
    `records_per_invocation`), and with digests the digests table's key among KMS's cached ones."""
    t = replace(
        a,
        channels=rule.channels,
        priority=rule.priority,
        records_per_invocation=records_per_invocation,
        consumer_memory_mb={},
        kms_cache_holders=a.kms_cache_holders + int(digests),
        measured=a.measured,
    )
    from_template(t)
    return t


@dataclass
class MixCost:
    lines: list[Line]
    sent_per_event: float
    deliveries_per_event: float

    def usd_per_million(self, prices: dict[str, float]) -> float:
        return sum(by_service(self.lines, prices).values())


def mix_cost(
    a: Assumptions,
    d: DigestAssumptions,
    results: dict[str, Any],
    *,
    digests: bool,
    burst: int,
    records_per_invocation: float = 0,
) -> MixCost:
    """Per event of the mix, digests off or on, with bursts of `burst` (see the module's docstring)."""
    rules = routing_rules()
    lines: list[Line] = []
    sent = deliveries = 0.0
    for event_type, share in d.mix.items():
        rule = rules[event_type]
        t = type_assumptions(a, rule, records_per_invocation, digests)
        if digests and rule.digested:
            own, per_event = digested_event_lines(event_type, t, d, results, rule=rule, n=burst)
        else:
            own, per_event = single_event_lines(t, results), 1.0
        lines += _scaled(own, share, f"{event_type}: ")
        sent += share * per_event
        deliveries += share * per_event * len(rule.channels)
    return MixCost(lines, sent, deliveries)


# ------------------------------------------------------------------ output


def _figures(cost: MixCost, prices: dict[str, float]) -> dict[str, Any]:
    usd = cost.usd_per_million(prices)
    return {
        "usd_per_million": round(usd, 4),
        "sent_per_million": round(cost.sent_per_event * 1_000_000),
        "deliveries_per_million": round(cost.deliveries_per_event * 1_000_000),
        "usd_per_million_sent": round(usd / cost.sent_per_event, 4),
    }


def run(
    a: Assumptions,
    d: DigestAssumptions,
    results: dict[str, Any],
    prices: dict[str, float],
    *,
    records_per_invocation: float = 0,
) -> dict[str, Any]:
    """Print the mix's figures; what bench.cost records as `cost_digests`."""
    from_template_digests(d)
    bursts = tuple(dict.fromkeys((*d.bursts, d.headline_burst)))
    rules = routing_rules()
    off = mix_cost(a, d, results, digests=False, burst=1, records_per_invocation=records_per_invocation)
    on = {
        n: mix_cost(a, d, results, digests=True, burst=n, records_per_invocation=records_per_invocation)
        for n in bursts
    }
    mix = ", ".join(f"{share:.0%} {event_type}" for event_type, share in d.mix.items())
    digested = "; ".join(
        f"{t} by {' + '.join(rule.key)}, {rule.window_seconds} s{', leading' if rule.leading else ''}"
        for t, rule in ((t, rules[t]) for t in d.mix)
        if rule.digested
    )
    print(f"digests: a LIKE-heavy mix, per million events ({mix}); digested: {digested}")
    print(
        f"  bursts: N events of a key within its window; the headline is N = {d.headline_burst}. "
        f"Due function {d.due_memory_mb} MB, {d.due_records_per_invocation:g} flush an invocation"
    )
    print(
        f"  {'N':>4} {'digests':8} {'USD / M events':>15} {'sent / M events':>16} "
        f"{'deliveries / M':>15} {'USD / M sent':>13}"
    )
    rows = [("-", "off", _figures(off, prices))]
    rows += [(f"{n}{' *' if n == d.headline_burst else ''}", "on", _figures(on[n], prices)) for n in bursts]
    for n, state, f in rows:
        print(
            f"  {n:>4} {state:8} {f['usd_per_million']:15.4f} {f['sent_per_million']:16,} "
            f"{f['deliveries_per_million']:15,} {f['usd_per_million_sent']:13.4f}"
        )
    print("  (* the headline; off does not depend on N: every event is sent alone)")
    due_inputs = ("due_cpu_ms_per_flush.due", "cold_ms.due")
    print("  due function: " + ", ".join(f"{key} {a.measured[key]}" for key in due_inputs))
    print()
    head = on[d.headline_burst]
    off_services, on_services = by_service(off.lines, prices), by_service(head.lines, prices)
    print(
        f"digests: by service, USD per million events of the mix, off / on with bursts of {d.headline_burst}"
    )
    for service in sorted(set(off_services) | set(on_services), key=lambda s: -off_services.get(s, 0)):
        print(f"  {service:18} {off_services.get(service, 0):13.4f} {on_services.get(service, 0):13.4f}")
    print(f"  {'TOTAL':18} {sum(off_services.values()):13.4f} {sum(on_services.values()):13.4f}")
    print()
    for event_type in (t for t in d.mix if rules[t].digested):
        calls = window_calls(event_type, rules[event_type], d.headline_burst, d)
        print(
            f"digests: the AWS calls of one {event_type} window of {d.headline_burst} events, as counted "
            "from the code (tests/unit/bench/test_digest_cost.py checks them in moto)"
        )
        print(f"  {'side':8} {'calls':>5} {'units':>6}  what")
        for call in calls:
            units = str(call.units) if call.units else ""
            print(f"  {call.side:8} {call.count:5} {units:>6}  {call.what}")
        print()

    def both(n: int) -> dict[str, Any]:
        return {"off": _figures(off, prices), "on": _figures(on[n], prices)}

    return {
        "burst": d.headline_burst,
        **both(d.headline_burst),
        **{f"n{n}": both(n) for n in bursts},
        "breakdown_usd_per_million": {
            "off": {k: round(v, 4) for k, v in off_services.items()},
            "on": {k: round(v, 4) for k, v in on_services.items()},
        },
        "assumptions": {
            "mix": d.mix,
            "bursts": list(bursts),
            "headline_burst": d.headline_burst,
            "actor_names": d.actor_names,
            "due_records_per_invocation": d.due_records_per_invocation,
            "sqs_send_ms": d.sqs_send_ms,
            "transact_write_ms": d.transact_write_ms,
            "due_memory_mb": d.due_memory_mb,
            "max_events": d.max_events,
            "bytes": {
                "head": DIGEST_HEAD_BYTES,
                "window": DIGEST_WINDOW_BYTES,
                "event": DIGEST_EVENT_BYTES,
                "actor": DIGEST_ACTOR_BYTES,
                "leading": DIGEST_LEADING_BYTES,
                "lease": DIGEST_LEASE_BYTES,
                "status_row": STATUS_ROW_BYTES,
            },
            "due_log_bytes": DUE_LOG_BYTES,
            "counted": "modelled from the code; checked against it in moto by the unit tests",
        },
    }
