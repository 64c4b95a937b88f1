"""What the benchmarks measure: every function a user or a queue invokes, each with its sample event,
its budget (the same in bench.cold_start and bench.report) and its artifact's vendor check."""

from __future__ import annotations

import json
from functools import cache

from bench import artifacts, cold_start, cost, report
from devstack.template import Stack, load_template
from notifier import runtime
from notifier.models.channels import Channel

STACK = Stack(load_template())
MEASURED = {*(c.value for c in Channel), "publish", "socket"}


def test_every_channel_the_api_and_the_socket_have_a_measured_cold_start():
    assert set(cold_start.FUNCTIONS) == MEASURED
    for key, logical_id in cold_start.FUNCTIONS.items():
        assert STACK.resources[logical_id]["Type"] == "AWS::Serverless::Function", key
        assert (cold_start.EVENTS / cold_start.EVENT_FILES[key]).is_file(), key
    assert set(cold_start.BUDGETS) == set(cold_start.NAIVE) == set(cold_start.EVENT_FILES) == MEASURED


def test_the_report_budgets_each_cold_start_as_bench_cold_start_does():
    results = {"cold_ms": {"floor": 100.0}}
    budgeted = {r.key.removeprefix("cold_ms."): r for r in report.ROWS if r.key.startswith("cold_ms.")}
    assert set(budgeted) == {"floor", *MEASURED}
    for function, factor in cold_start.BUDGETS.items():
        row = budgeted[function]
        assert row.check is not None
        assert row.budget == f"<= {factor} x floor"
        assert row.check(factor * 100.0, results)
        assert not row.check(factor * 100.0 + 0.1, results)


def test_every_artifact_has_its_vendor_check_and_a_row():
    assert set(artifacts.OWN_VENDOR) == set(artifacts.ARTIFACTS)
    assert {"inapp", "socket"} <= {k for k, vendor in artifacts.OWN_VENDOR.items() if vendor is None}
    rows = {row.key.removeprefix("artifact_mb.") for row in report.ROWS if row.key.startswith("artifact_mb.")}
    assert rows == set(artifacts.ARTIFACTS)


def test_the_socket_child_gets_the_authorizer_sample_with_a_token_its_function_takes(monkeypatch):
    """The token in the child's event is one the socket function's own code accepts, with the key the
    stubs answer for the function's INBOX_TOKEN_SECRET."""
    environment = cold_start.function_environment("socket", cold_start._stack())
    event = json.loads(cold_start.sample_event("socket", environment))
    token = event["queryStringParameters"]["token"]
    secrets = json.loads(cold_start.answers())["secrets"]

    class Stored:
        def text(self, name: str) -> str:
            return str(secrets[name])

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    monkeypatch.setattr(runtime, "token_secret_source", cache(Stored))  # reset() clears it
    try:
        claims = runtime.inbox_tokens().verify(token)
    finally:
        runtime.reset()

    assert event["type"] == "REQUEST"
    assert event["multiValueQueryStringParameters"]["token"] == [token]
    assert claims.recipient_id == cold_start.CONNECTION[1]


def test_the_stubs_know_the_connection_of_the_samples_recipient():
    connection_id, recipient_id = cold_start.CONNECTION
    sample = json.loads((cold_start.EVENTS / "websocket_connect.json").read_text())
    inapp = json.loads((cold_start.EVENTS / cold_start.EVENT_FILES["inapp"]).read_text())

    assert sample["requestContext"]["connectionId"] == connection_id
    assert {json.loads(r["body"])["recipient_id"] for r in inapp["Records"]} == {recipient_id}
    assert json.loads(cold_start.answers())["connections"] == {connection_id: recipient_id}


def test_the_cost_model_prices_every_channel_and_the_inapp_consumers_own_work():
    assert set(cost.CHANNELS) == {c.value for c in Channel}
    a = cost.Assumptions(channels=("inapp",))
    cost.from_template(a)
    lines = {line.what: line for line in cost.single_event_lines(a, {})}

    assert lines["inbox PutItem (conditional) + its 4 local index entries"].quantity == 5
    assert lines["Query the recipient's connections"].quantity == 0.5
    [messages] = [line for line in lines.values() if line.price == "apigateway_websocket_message"]
    assert messages.quantity == 2  # the item and the counts, to the one open connection
    assert not any("vendor" in what for what in lines)


def test_a_notification_to_two_channels_pays_the_publish_once_and_each_consumer():
    prices, _ = cost.load_prices()

    def total(*channels: str) -> float:
        a = cost.Assumptions(channels=channels)
        cost.from_template(a)
        return sum(cost.by_service(cost.single_event_lines(a, {}), prices).values())

    publish_part = total("push") + total("inapp") - total("push", "inapp")
    accepted = prices["dynamodb_write_request_unit"] * 1_000_000  # the second channel's ACCEPTED
    assert publish_part > 3.5  # at least the API Gateway request, counted once
    assert total("push", "inapp") > max(total("push"), total("inapp")) + accepted
