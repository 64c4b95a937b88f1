"""How `make redrive QUEUE=...` reads the queue's name, before any AWS call."""

from __future__ import annotations

import pytest

from notifier.models.channels import Channel, Priority
from ops.redrive import UsageError, friendly_name, logical_id_for, main, template_dead_letter_queues


@pytest.mark.parametrize(
    ("queue", "logical_id"),
    [
        ("email-critical", "EmailCriticalDLQ"),
        ("sms-standard", "SmsStandardDLQ"),
        ("push_critical", "PushCriticalDLQ"),
        ("inapp-standard", "InappStandardDLQ"),
        ("email-critical-dlq", "EmailCriticalDLQ"),
        ("EmailCriticalDLQ", "EmailCriticalDLQ"),
    ],
)
def test_given_a_friendly_name_or_logical_id_when_read_then_it_is_the_logical_id(queue, logical_id):
    assert logical_id_for(queue) == logical_id


@pytest.mark.parametrize("queue", ["Email Critical", "email--critical", "-email", "email.critical"])
def test_given_a_malformed_name_when_read_then_it_is_refused(queue):
    with pytest.raises(UsageError, match="is not a name like email-critical"):
        logical_id_for(queue)


def test_given_the_template_when_its_dlqs_are_listed_then_each_has_a_friendly_name_that_reads_back():
    dlqs = template_dead_letter_queues()

    # one per channel and priority, the due queue's, and the fallback providers' receipts'
    assert len(dlqs) == len(Channel) * len(Priority) + 2
    assert {"DueDLQ", "FallbackReceiptsDLQ"} <= set(dlqs)
    assert logical_id_for("fallback-receipts") == "FallbackReceiptsDLQ"
    assert all(logical_id_for(friendly_name(dlq)) == dlq for dlq in dlqs)


@pytest.mark.parametrize("rate", ["0", "501"])
def test_given_a_rate_out_of_range_when_run_then_it_is_bad_usage(rate, capsys):
    status = main(["email-critical", "--max-per-second", rate])

    assert status == 2
    assert capsys.readouterr().err == "redrive: error: --max-per-second must be between 1 and 500\n"


def test_given_no_queue_when_run_then_it_is_bad_usage_in_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main([])

    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "redrive: error: the following arguments are required: QUEUE (see --help)"
    ]
