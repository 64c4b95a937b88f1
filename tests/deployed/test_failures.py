"""What a user sees when a delivery fails: bounces and the suppression list, permanent failures, retries
that end in a dead-letter queue, a redrive, and opt-outs.

Every failure comes from the sandbox's reserved addresses (`notifier.providers.sandbox`), which every
test of every file shares: a message of this file is found in a DLQ by its notification id, never by
the DLQ being otherwise empty, and only this file's own messages are ever deleted from one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from ops import redrive
from ops.stack import DeployedStack
from tests.deployed.conftest import Api, Leftovers, delete_own_message, find_in_queue, wait_until

EMAIL_BOUNCED_BY_RECEIPT = "bounced@simulator.sandbox"
EMAIL_PERMANENT_FAILURE = "bounce@simulator.sandbox"
EMAIL_TRANSIENT_FAILURE = "throttle@simulator.sandbox"
SMS_PERMANENT_FAILURE = "+15005550001"
SMS_TRANSIENT_FAILURE = "+15005550429"

# The emulator polls its queues once a second; MaxReceiveCount=3 with RetryMaxSeconds=2 dead-letters
# in 10 to 20 s, a redriven message as long again.
DEAD_LETTER_TIMEOUT = 120.0
DLQ_TIMEOUT = 60.0
SETTLED_TIMEOUT = 60.0
QUIET_SECONDS = 6.0
"""How long a permanent failure is watched for a retry it must not get: more than RetryMaxSeconds and
a few of the emulator's polls."""

REDRIVE_QUEUE = "sms-standard"
"""The DLQ the redrive test empties back into its queue. A redrive moves every message of the DLQ, so
it is one no other file of tests/deployed dead-letters to: SMS at standard priority."""


@pytest.fixture(scope="module")
def consumer_settings(stack: DeployedStack) -> dict[str, str]:
    """The consumers' retry settings (MAX_RECEIVE_COUNT, RETRY_MAX_SECONDS, ...) as deployed."""
    lam = stack.client("lambda")
    config = lam.get_function_configuration(FunctionName=stack.outputs["EmailFunctionName"])
    return dict(config["Environment"]["Variables"])


@pytest.fixture(scope="module")
def max_receive_count(consumer_settings: dict[str, str]) -> int:
    count = int(consumer_settings["MAX_RECEIVE_COUNT"])
    retry_max = float(consumer_settings.get("RETRY_MAX_SECONDS", "0"))
    if count > 3 or retry_max > 5:
        pytest.skip(
            f"the stack retries {count - 1} times up to {retry_max:.0f} s apart (MaxReceiveCount={count}, "
            "RetryMaxSeconds): too long for these tests; deploy with MaxReceiveCount=3 RetryMaxSeconds=2 "
            "(make deploy-local)"
        )
    return count


def test_a_bounced_email_is_bounced_and_its_address_suppressed(
    api: Api, recipient: Callable[..., str], leftovers: Leftovers
):
    """The sandbox takes the e-mail (SENT) and then posts a signed SendGrid bounce to the webhook route:
    BOUNCED, the address on the suppression list, and the next e-mail to it is not sent."""
    recipient_id = recipient(email=EMAIL_BOUNCED_BY_RECEIPT)
    first = api.publish(recipient_id, "email", "this one bounces")
    state = api.wait_for_status(first, "email", {"BOUNCED", "SUPPRESSED", "FAILED"}, timeout=SETTLED_TIMEOUT)
    if state["status"] == "SUPPRESSED":
        # The address is shared by every test: another one's bounce put it on the list first.
        entry = api.call("GET", f"/suppressions/{quote(EMAIL_BOUNCED_BY_RECEIPT, safe='')}")
        pytest.skip(
            f"{EMAIL_BOUNCED_BY_RECEIPT} was already suppressed (by {entry.text}), so no bounce could be "
            "seen; run again when the test that suppressed it has removed it"
        )
    leftovers.suppressed.add(EMAIL_BOUNCED_BY_RECEIPT)
    assert state["status"] == "BOUNCED", state
    assert state["attempts"] == 1
    assert state["provider"] == "sandbox"
    assert state["bounced_at"]
    assert state["provider_message_id"]

    entry = api.call("GET", f"/suppressions/{quote(EMAIL_BOUNCED_BY_RECEIPT, safe='')}")
    assert entry.status_code == 200, entry.text
    suppression = entry.json()
    assert suppression["address"] == EMAIL_BOUNCED_BY_RECEIPT
    assert suppression["channel"] == "email"
    assert "bounce" in suppression["source"], suppression
    assert suppression["reason"]
    # The first bounce's reason is kept: this one's, unless another test bounced it at the same moment.
    assert suppression["notification_id"]

    second = api.publish(recipient_id, "email", "never sent")
    later = api.wait_for_status(
        second, "email", {"SUPPRESSED", "SENT", "DELIVERED", "BOUNCED", "FAILED"}, timeout=SETTLED_TIMEOUT
    )
    assert later["status"] == "SUPPRESSED", later
    assert later["attempts"] == 0
    assert later["provider_message_id"] is None
    assert later["last_error"].startswith("address suppressed"), later


PERMANENT_FAILURES = {
    "email": ({"email": EMAIL_PERMANENT_FAILURE}, "EmailCriticalDLQUrl"),
    "sms": ({"phone": SMS_PERMANENT_FAILURE}, "SmsCriticalDLQUrl"),
}


@pytest.mark.parametrize("channel", sorted(PERMANENT_FAILURES))
def test_a_permanent_failure_is_failed_at_once_and_never_dead_lettered(
    api: Api, stack: DeployedStack, recipient: Callable[..., str], channel: str
):
    contacts, dlq_output = PERMANENT_FAILURES[channel]
    notification_id = api.publish(recipient(**contacts), channel, "refused for good")
    state = api.wait_for_status(
        notification_id, channel, {"FAILED", "SENT", "DELIVERED", "DEAD_LETTERED"}, timeout=SETTLED_TIMEOUT
    )
    assert state["status"] == "FAILED", state
    assert state["attempts"] == 1
    assert "rejected permanently" in (state["last_error"] or ""), state
    # Nothing retries it: still one attempt, and its message is not in the DLQ, well after a retry
    # would have come.
    assert find_in_queue(stack, stack.outputs[dlq_output], notification_id, timeout=QUIET_SECONDS) is None
    again = api.status(notification_id)["channels"][channel]
    assert again["status"] == "FAILED", again
    assert again["attempts"] == 1, again


def test_a_transient_failure_that_never_clears_is_retried_then_dead_lettered(
    api: Api, stack: DeployedStack, recipient: Callable[..., str], max_receive_count: int
):
    notification_id = api.publish(
        recipient(email=EMAIL_TRANSIENT_FAILURE), "email", "the vendor keeps refusing"
    )
    state = api.wait_for_status(
        notification_id,
        "email",
        {"DEAD_LETTERED", "FAILED", "SENT", "DELIVERED"},
        timeout=DEAD_LETTER_TIMEOUT,
    )
    assert state["status"] == "DEAD_LETTERED", state
    assert state["attempts"] == max_receive_count - 1
    assert "temporarily unavailable" in (state["last_error"] or ""), state

    dlq = stack.outputs["EmailCriticalDLQUrl"]
    message = find_in_queue(stack, dlq, notification_id, timeout=DLQ_TIMEOUT)
    assert message is not None, f"{notification_id} is not in EmailCriticalDLQ within {DLQ_TIMEOUT:.0f} s"
    envelope = json.loads(message["Body"])
    assert envelope["notification_id"] == notification_id
    assert envelope["priority"] == "critical"
    assert "email" in envelope["channels"]
    delete_own_message(stack, dlq, notification_id)


def dead_letter_an_sms(api: Api, stack: DeployedStack, recipient: Callable[..., str], receives: int) -> str:
    """A standard SMS the carrier keeps refusing, once it is DEAD_LETTERED and in SmsStandardDLQ."""
    notification_id = api.publish(
        recipient(phone=SMS_TRANSIENT_FAILURE), "sms", "the carrier keeps refusing", priority="standard"
    )
    state = api.wait_for_status(
        notification_id, "sms", {"DEAD_LETTERED", "FAILED", "SENT", "DELIVERED"}, timeout=DEAD_LETTER_TIMEOUT
    )
    assert state["status"] == "DEAD_LETTERED", state
    assert state["attempts"] == receives - 1
    assert find_in_queue(stack, stack.outputs["SmsStandardDLQUrl"], notification_id, timeout=DLQ_TIMEOUT), (
        f"{notification_id} is not in SmsStandardDLQ within {DLQ_TIMEOUT:.0f} s"
    )
    return notification_id


def assert_tried_again_then_dead_lettered(
    api: Api, stack: DeployedStack, notification_id: str, receives: int
) -> None:
    """After a redrive: QUEUED again, as many attempts again, DEAD_LETTERED again and back in the DLQ."""

    def tried_again() -> dict[str, Any] | None:
        state = api.status(notification_id)["channels"]["sms"]
        return state if state["attempts"] > receives - 1 else None

    retried = wait_until(
        tried_again,
        DEAD_LETTER_TIMEOUT,
        what=f"{notification_id} tried again after the redrive",
        last=lambda: api.status(notification_id),
    )
    assert retried["status"] in {"QUEUED", "DEAD_LETTERED"}, retried
    final = api.wait_for_status(
        notification_id, "sms", {"DEAD_LETTERED", "FAILED", "SENT", "DELIVERED"}, timeout=DEAD_LETTER_TIMEOUT
    )
    assert final["status"] == "DEAD_LETTERED", final
    assert final["attempts"] == 2 * (receives - 1), final
    assert "temporarily unavailable" in (final["last_error"] or ""), final
    dlq = stack.outputs["SmsStandardDLQUrl"]
    assert find_in_queue(stack, dlq, notification_id, timeout=DLQ_TIMEOUT), (
        f"{notification_id} is not back in SmsStandardDLQ within {DLQ_TIMEOUT:.0f} s"
    )
    delete_own_message(stack, dlq, notification_id)


def test_a_dead_letter_sent_back_to_its_queue_is_tried_again(
    api: Api, stack: DeployedStack, recipient: Callable[..., str], max_receive_count: int
):
    """What a redrive does to one message, done to this test's own only: its copy sent to the queue it
    came from, then deleted from the DLQ. The notification reopens (DEAD_LETTERED -> QUEUED), is tried
    again and, the carrier still refusing, is dead-lettered again."""
    notification_id = dead_letter_an_sms(api, stack, recipient, max_receive_count)
    sqs = stack.client("sqs")
    dlq = stack.outputs["SmsStandardDLQUrl"]
    message = find_in_queue(stack, dlq, notification_id, timeout=DLQ_TIMEOUT, hold_seconds=30)
    assert message is not None
    attributes = {
        name: {
            key: value
            for key, value in attribute.items()
            if key in {"DataType", "StringValue", "BinaryValue"}
        }
        for name, attribute in message.get("MessageAttributes", {}).items()
    }
    sqs.send_message(
        QueueUrl=stack.outputs["SmsStandardQueueUrl"],
        MessageBody=message["Body"],
        **({"MessageAttributes": attributes} if attributes else {}),
    )
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    assert_tried_again_then_dead_lettered(api, stack, notification_id, max_receive_count)


def test_the_redrive_command_sends_a_dead_letter_back_and_it_is_tried_again(
    api: Api,
    stack: DeployedStack,
    recipient: Callable[..., str],
    max_receive_count: int,
    capsys: pytest.CaptureFixture[str],
):
    """`python -m ops.redrive sms-standard` (docs/operations.md) moves the DLQ's messages back to their
    queue. It moves every message of the DLQ: see REDRIVE_QUEUE for why this one."""
    notification_id = dead_letter_an_sms(api, stack, recipient, max_receive_count)
    said: list[str] = []
    argv = [REDRIVE_QUEUE, "--stack", stack.name, "--region", stack.region]
    exit_status = redrive.main(
        [*argv, "--endpoint", stack.endpoint] if stack.endpoint else argv,
        # The caller's credentials, as the stack's clients have them (the tests' environment has fakes).
        client=stack.client("sqs"),
        out=said.append,
    )
    if exit_status != 0:
        delete_own_message(stack, stack.outputs["SmsStandardDLQUrl"], notification_id)
        pytest.fail(f"ops.redrive exited {exit_status}: {said} {capsys.readouterr().err.strip()}")
    assert_tried_again_then_dead_lettered(api, stack, notification_id, max_receive_count)


def test_an_email_opted_out_of_is_suppressed_not_sent(api: Api, recipient: Callable[..., str]):
    recipient_id = recipient(preferences={"opt_out": {"channels": ["email"], "event_types": []}})
    notification_id = api.publish(recipient_id, "email", "not wanted")
    state = api.wait_for_status(
        notification_id, "email", {"SUPPRESSED", "SENT", "DELIVERED", "FAILED"}, timeout=SETTLED_TIMEOUT
    )
    assert state["status"] == "SUPPRESSED", state
    assert state["attempts"] == 0
    assert state["provider_message_id"] is None
    # The recipient's own opt-out, not the suppression list.
    assert state["last_error"] == "recipient opted out of email", state
    # Only e-mail is opted out of: the same recipient still gets an SMS.
    sms = api.publish(recipient_id, "sms", "still wanted")
    assert api.wait_for_status(sms, "sms", {"SENT", "DELIVERED", "SUPPRESSED", "FAILED"})["status"] in {
        "SENT",
        "DELIVERED",
    }
