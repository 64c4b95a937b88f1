"""bench.digest_cost: the digests' calls it counts are the ones the code makes (the real Digests, in
moto, each call and each DynamoDB request unit metered), and its figures move the way digests must move
them: a burst of one costs more with digests than without, bursts of 20 send fewer notifications and
cost less per event."""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import cost, digest_cost, report
from notifier.api.publishing import event_envelope
from notifier.api.routing import routing_rules
from notifier.api.sns_publisher import Publisher
from notifier.models.channels import SocialEventType
from notifier.models.envelope import DIGEST_MAX_ACTORS
from notifier.models.requests import EventRequest
from notifier.scheduling.digests import Digests
from notifier.stores.digests import DigestStore
from notifier.stores.status import StatusStore

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
KEYS = {"digests": ("pk", "sk"), "status": ("notification_id", "channel")}


def assumptions() -> digest_cost.DigestAssumptions:
    d = digest_cost.DigestAssumptions()
    digest_cost.from_template_digests(d)
    return d


# ------------------------------------------------------------------ metering the code in moto


def _value_bytes(value: dict[str, Any]) -> int:
    """A value's size as DynamoDB bills it (developer guide, "Item sizes and formats")."""
    [(kind, raw)] = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").strip("0")
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in raw.items())
    raise ValueError(kind)


def item_bytes(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + _value_bytes(value) for name, value in (item or {}).items())


class Meter:
    """Each call made through the clients it watches, by "service.Operation target" (the table, or the
    queue's name), and the DynamoDB request units it costs: a write, the larger of the item's size
    before and after it, per KB (twice in a transaction; a failed conditional write too); a GetItem,
    per 4 KB (half when eventually consistent)."""

    def __init__(self, peek: Any, *clients: Any) -> None:
        self.peek = peek  # a client of its own, not watched
        self.calls: Counter[str] = Counter()
        self.units: Counter[str] = Counter()
        self.sent: list[dict[str, Any]] = []
        self._before: list[tuple[str, dict[str, Any], int]] = []
        for client in clients:
            client.meta.events.register("provide-client-params", self._call)
            client.meta.events.register("after-call", self._done)

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.peek.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item

    def _call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        if service == "dynamodb" and operation == "TransactWriteItems":
            writes = [next(iter(entry.values())) for entry in params["TransactItems"]]
            tables = {w["TableName"] for w in writes}
            target = " ".join(sorted(tables))
            self._before = []
            for write in writes:
                key = write.get("Key") or {k: write["Item"][k] for k in KEYS[write["TableName"]]}
                self._before.append(
                    (write["TableName"], key, item_bytes(self._item(write["TableName"], key)))
                )
        elif service == "dynamodb":
            target = params["TableName"]
            self._before = [(target, params["Key"], item_bytes(self._item(target, params["Key"])))]
        elif service == "sqs":
            target = params["QueueUrl"].rsplit("/", 1)[-1]
            self.sent.append(params)
        else:
            target = ""
        self._operation = f"{service}.{operation} {target}".strip()
        self.calls[self._operation] += 1

    def _done(self, model: Any, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        if model.name == "GetItem":
            [(table, key, size)] = self._before
            self.units[self._operation] += max(1, math.ceil(size / 4096))  # all consistent here
            return
        factor = 2 if model.name == "TransactWriteItems" else 1
        for table, key, before in self._before:
            after = item_bytes(self._item(table, key))
            self.units[self._operation] += factor * max(1, math.ceil(max(before, after) / 1024))


@dataclass
class Aws:
    dynamodb: Any
    sqs: Any
    sns: Any
    peek: Any
    queue_url: str
    topic_arn: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for table, (hash_key, range_key) in KEYS.items():
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": hash_key, "AttributeType": "S"},
                    {"AttributeName": range_key, "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
            )
        sqs = boto3.client("sqs", region_name="us-east-1")
        sns = boto3.client("sns", region_name="us-east-1")
        yield Aws(
            dynamodb=dynamodb,
            sqs=sqs,
            sns=sns,
            peek=boto3.client("dynamodb", region_name="us-east-1"),
            queue_url=sqs.create_queue(QueueName="due")["QueueUrl"],
            topic_arn=sns.create_topic(Name="notifications")["TopicArn"],
        )


def event(event_type: str, i: int) -> Any:
    """The model's sample event (standard priority), with a name of the model's length."""
    actor = f"Actor {i:06d}"
    assert len(actor) == digest_cost.ACTOR_NAME_CHARS
    request = EventRequest.model_validate(
        {
            "user_id": digest_cost.SAMPLE_RECIPIENT,
            "event_type": event_type,
            "payload": {**digest_cost.SAMPLE_PAYLOAD, "actor_name": actor},
        }
    )
    return event_envelope(request, correlation_id=str(uuid.uuid4()))


def metered_window(aws: Aws, event_type: str, n: int, max_events: int) -> Meter:
    """`n` events of one key gathered one after another, then their window flushed once it has closed,
    as the due function does with the message the opener queued."""
    rule = routing_rules()[SocialEventType(event_type)].digest
    assert rule is not None
    clock = [T0]
    status = StatusStore("status", ttl_days=7, client=aws.dynamodb)
    publisher = Publisher(aws.topic_arn, status, aws.sns)
    digests = Digests(
        DigestStore("digests", aws.dynamodb),
        status,
        lambda: publisher,
        sqs=lambda: aws.sqs,
        due_queue_url=aws.queue_url,
        max_events=max_events,
        clock=lambda: clock[0],
    )
    meter = Meter(aws.peek, aws.dynamodb, aws.sqs, aws.sns)
    for i in range(n):
        digests.add(event(event_type, i), rule)
        clock[0] += timedelta(seconds=1)
    [flush] = [json.loads(sent["MessageBody"]) for sent in meter.sent]
    clock[0] = T0 + timedelta(seconds=rule.window_seconds + n)
    done = digests.flush(flush["key"], flush["window_id"], clock[0])
    assert done == ("empty" if rule.leading and n == 1 else "sent")
    return meter


def modelled(calls: list[digest_cost.Call]) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for call in calls:
        counts[call.operation] += call.count
        units[call.operation] += call.units
    return +counts, +units


@pytest.mark.parametrize("event_type", ["LIKE", "FOLLOW"])
@pytest.mark.parametrize("n", [1, 5, 20])
def test_the_model_counts_every_call_and_write_unit_the_code_makes(aws, event_type, n):
    d = assumptions()
    rule = digest_cost.routing_rules()[event_type]
    meter = metered_window(aws, event_type, n, d.max_events)

    counts, units = modelled(digest_cost.window_calls(event_type, rule, n, d))

    assert counts == +meter.calls
    assert units == +meter.units


def test_the_window_grows_past_a_write_unit_as_the_model_says(aws):
    """Bursts of 20 LIKEs: the window outgrows 1 KB, so its later joins and names cost 2 units each."""
    d = assumptions()
    meter = metered_window(aws, "LIKE", 20, d.max_events)
    assert meter.units["dynamodb.UpdateItem digests"] > 2 * 19 + 2  # joins + names + claim + finish


def test_the_model_reads_the_routing_rules_the_code_routes_by():
    rules = digest_cost.routing_rules()
    for event_type, route in routing_rules().items():
        rule = rules[event_type.value]
        assert rule.channels == tuple(c.value for c in route.channels)
        assert rule.priority == route.priority.value
        assert rule.digested == (route.digest is not None and route.priority.value != "critical")
        if route.digest is not None:
            digest = route.digest
            assert (rule.window_seconds, rule.key, rule.leading) == (
                digest.window_seconds,
                digest.key,
                digest.leading,
            )
    assert digest_cost.DIGEST_MAX_ACTORS == DIGEST_MAX_ACTORS
    assert set(digest_cost.MIX) <= {t.value for t in SocialEventType}
    assert math.isclose(sum(digest_cost.MIX.values()), 1.0)


# ------------------------------------------------------------------ the figures


def mix(burst: int, *, digests: bool) -> tuple[float, float]:
    """(USD per million events, notifications sent per event) of the mix."""
    prices, _ = cost.load_prices()
    a = cost.Assumptions()
    cost.from_template(a)
    d = assumptions()
    figures = digest_cost.mix_cost(a, d, {}, digests=digests, burst=burst)
    return figures.usd_per_million(prices), figures.sent_per_event


def test_with_bursts_of_one_digests_send_as_many_and_cost_more():
    off, sent_off = mix(1, digests=False)
    on, sent_on = mix(1, digests=True)

    assert sent_on == sent_off == 1.0
    # Every LIKE and FOLLOW pays its window alone: the HEAD read, the transaction, the flush, the due
    # function and its claim and finish, on top of what being sent at once cost.
    assert on > off + 4


def test_with_bursts_of_twenty_fewer_are_sent_and_each_event_costs_less():
    off, sent_off = mix(20, digests=False)
    on, sent_on = mix(20, digests=True)

    # A LIKE window of 20 sends 1; a FOLLOW window the leading one and the digest; the rest alone.
    assert sent_on == pytest.approx(0.80 / 20 + 0.10 + 0.05 * 2 / 20 + 0.05)
    assert on < off * 0.7
    assert on / sent_on > off / sent_off  # each notification sent carries the events it gathered


def test_the_cost_per_event_falls_as_bursts_grow_and_off_does_not_move():
    assert mix(1, digests=False) == mix(20, digests=False)
    on = [mix(n, digests=True)[0] for n in (1, 2, 5, 20)]
    assert on == sorted(on, reverse=True)


def test_a_window_of_a_hundred_pays_for_its_size():
    """Each event id stays in the window item, so joining a big window writes several KB: per event,
    the digests table costs more at 100 than at 20 (and the mix with it), though fewer are sent."""
    d = assumptions()
    like = digest_cost.routing_rules()["LIKE"]

    def units_per_event(n: int) -> float:
        calls = digest_cost.window_calls("LIKE", like, n, d)
        return sum(c.units for c in calls if c.operation.endswith(" digests")) / n

    assert units_per_event(100) > units_per_event(20) > units_per_event(5)
    assert mix(100, digests=True)[0] > mix(20, digests=True)[0]
    assert mix(100, digests=True)[1] < mix(20, digests=True)[1]


def test_digests_off_is_the_cost_model_of_each_event_sent_at_once():
    prices, _ = cost.load_prices()
    expected = 0.0
    for event_type, share in digest_cost.MIX.items():
        route = digest_cost.routing_rules()[event_type]
        a = cost.Assumptions(channels=route.channels, priority=route.priority)
        cost.from_template(a)
        expected += share * sum(cost.by_service(cost.single_event_lines(a, {}), prices).values())
    assert mix(5, digests=False)[0] == pytest.approx(expected)


def test_a_leading_window_of_one_sends_its_event_and_no_digest():
    d = assumptions()
    follow, like = digest_cost.routing_rules()["FOLLOW"], digest_cost.routing_rules()["LIKE"]
    assert digest_cost.sent_per_window(follow, 1) == 1
    assert digest_cost.sent_per_window(follow, 5) == 2
    assert digest_cost.sent_per_window(like, 1) == digest_cost.sent_per_window(like, 20) == 1
    empty = digest_cost.window_calls("FOLLOW", follow, 1, d)
    assert [c.what for c in empty if c.side == "due"] == [
        "UpdateItem claim (FLUSHING)",
        "UpdateItem finish (EMPTY)",
    ]
    with pytest.raises(ValueError, match="DigestMaxEvents"):
        digest_cost.window_calls("LIKE", like, d.max_events + 1, d)


def test_the_report_shows_the_headline_and_every_burst():
    keys = {row.key for row in report.ROWS if row.key.startswith("cost_digests.")}
    for side in ("off", "on"):
        for figure in ("usd_per_million", "sent_per_million", "usd_per_million_sent"):
            assert f"cost_digests.{side}.{figure}" in keys
    for n in digest_cost.BURSTS:
        assert f"cost_digests.n{n}.on.usd_per_million" in keys
