"""Metrics by channel and priority (`ChannelMetrics`), and scoped log keys (`log_keys`)."""

from __future__ import annotations

import io
import json
import logging
import threading
from typing import Any

import pytest

from notifier.models.channels import Channel, Priority
from notifier.platform.logs import correlation_keys, log_keys, logger, record_keys
from notifier.platform.metrics import ChannelMetrics, metrics


def documents(printed: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in printed.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_each_channel_and_priority_is_one_document_with_its_three_dimensions(capsys):
    gathered = ChannelMetrics()
    gathered.count("NotificationsSent", channel=Channel.SMS, priority=Priority.CRITICAL)
    gathered.count("NotificationsSent", channel=Channel.SMS, priority=Priority.CRITICAL, value=2)
    gathered.count("NotificationsFailed", channel=Channel.SMS, priority=Priority.STANDARD)
    gathered.observe("VendorLatency", [12.5, 40], channel=Channel.SMS, priority=Priority.CRITICAL)

    gathered.flush()

    critical, standard = documents(capsys.readouterr().out)
    assert critical["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": metrics.namespace,
            "Dimensions": [["service", "channel", "priority"]],
            "Metrics": [
                {"Name": "NotificationsSent", "Unit": "Count"},
                {"Name": "VendorLatency", "Unit": "Milliseconds"},
            ],
        }
    ]
    assert {k: v for k, v in critical.items() if k != "_aws"} == {
        "service": "notifier",
        "channel": "sms",
        "priority": "critical",
        "NotificationsSent": [3.0],
        "VendorLatency": [12.5, 40.0],
    }
    assert (standard["channel"], standard["priority"], standard["NotificationsFailed"]) == (
        "sms",
        "standard",
        [1.0],
    )


def test_a_flush_writes_once_and_forgets(capsys):
    gathered = ChannelMetrics()
    gathered.count("NotificationsSent", channel=Channel.EMAIL, priority=Priority.STANDARD)
    gathered.count("PushTokensRemoved", channel=Channel.EMAIL, priority=Priority.STANDARD, value=0)

    gathered.flush()
    gathered.flush()

    [written] = documents(capsys.readouterr().out)
    assert "PushTokensRemoved" not in written  # a zero count is not written


def test_more_than_a_hundred_values_are_split_across_documents_of_the_same_dimensions(capsys):
    gathered = ChannelMetrics()
    gathered.observe("VendorLatency", range(250), channel=Channel.PUSH, priority=Priority.STANDARD)

    gathered.flush()

    written = documents(capsys.readouterr().out)
    assert [len(d["VendorLatency"]) for d in written] == [100, 100, 50]
    assert sorted(v for d in written for v in d["VendorLatency"]) == [float(v) for v in range(250)]
    assert {(d["channel"], d["priority"]) for d in written} == {("push", "standard")}


def test_values_gathered_from_many_threads_are_all_written(capsys):
    gathered = ChannelMetrics()

    def work() -> None:
        for _ in range(50):
            gathered.count("NotificationsSent", channel=Channel.EMAIL, priority=Priority.CRITICAL)
            gathered.observe("VendorLatency", [1.0], channel=Channel.EMAIL, priority=Priority.CRITICAL)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gathered.flush()

    written = documents(capsys.readouterr().out)
    assert sum(v for d in written for v in d.get("NotificationsSent", [])) == 400
    assert sum(len(d.get("VendorLatency", [])) for d in written) == 400


def test_with_metrics_disabled_nothing_is_gathered_nor_written(monkeypatch, capsys):
    gathered = ChannelMetrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    gathered.count("NotificationsSent", channel=Channel.EMAIL, priority=Priority.CRITICAL)
    gathered.observe("VendorLatency", range(150), channel=Channel.EMAIL, priority=Priority.CRITICAL)
    gathered.flush()
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    gathered.flush()

    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ log keys


@pytest.fixture(autouse=True)
def _no_thread_keys():
    logger.thread_safe_clear_keys()
    yield
    logger.thread_safe_clear_keys()


def test_log_keys_are_put_back_as_they_were_even_when_the_block_raises():
    logger.thread_safe_append_keys(correlation_ids=["a", "b"], kept="yes")

    inside: list[dict[str, object]] = []

    def fail_within() -> None:
        with log_keys(**record_keys(correlation_id="a", notification_id="n-1")):
            inside.append(dict(logger.thread_safe_get_current_keys()))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_within()

    assert inside == [
        {
            "correlation_ids": None,
            "kept": "yes",
            "correlation_id": "a",
            "notification_id": "n-1",
            "sqs_message_id": None,
        }
    ]
    assert logger.thread_safe_get_current_keys() == {"correlation_ids": ["a", "b"], "kept": "yes"}


def test_log_keys_of_one_thread_are_not_seen_by_another():
    seen: list[dict[str, object]] = []
    with log_keys(correlation_id="mine"):
        thread = threading.Thread(target=lambda: seen.append(dict(logger.thread_safe_get_current_keys())))
        thread.start()
        thread.join()
    assert seen == [{}]


def test_a_records_own_correlation_id_wins_over_a_global_one_and_none_hides_it():
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    logger.append_keys(correlation_id="global")
    try:
        with log_keys(**record_keys(correlation_id="own", notification_id="n-1")):
            logger.info("about one record")
        with log_keys(**correlation_keys(["x", "y", "x"])):
            logger.info("about a batch")
    finally:
        logger.remove_keys(["correlation_id"])
        handler.setStream(previous)

    one, batch = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert (one["correlation_id"], one["notification_id"], "correlation_ids" in one) == ("own", "n-1", False)
    assert (batch["correlation_ids"], "correlation_id" in batch) == (["x", "y"], False)


def test_correlation_keys_name_the_one_id_of_a_batch_that_has_one():
    assert correlation_keys(["c", None, "c"]) == {"correlation_ids": ["c"], "correlation_id": "c"}
    assert correlation_keys([None]) == {"correlation_ids": [], "correlation_id": None}
