"""Move a dead-letter queue's messages back to the queue they came from.

    python -m ops.redrive email-critical                 # the stack `notifier` on AWS
    python -m ops.redrive email-critical --endpoint http://127.0.0.1:4566   # the local stack

QUEUE names a DLQ of the stack: `email-critical` (the template's `EmailCriticalDLQ`), the logical id
itself, or the queue's URL or ARN. CloudFormation names a queue `<stack>-<LogicalId>-<random>` and the
local stack `<stack>-<LogicalId>`; a name prefix finds both.

Where SQS's message move task exists (AWS, LocalStack) it does the work: StartMessageMoveTask, then,
with --wait, ListMessageMoveTasks until the task ends. Where it does not (moto's server, which the
docker-free local stack runs), the messages are moved by hand: receive up to 10, send them to their
source queue with their body and attributes, and delete from the DLQ only those whose copy was sent.
A failure half-way loses nothing: a message not sent stays in the DLQ.

Exit status: 0 done, 1 failure, 2 bad usage (including a QUEUE that is unknown, ambiguous, or not a
DLQ of the stack).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlparse

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from devstack.template import TEMPLATE_PATH, load_template

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import (
        BatchResultErrorEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        ListMessageMoveTasksResultEntryTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
        StartMessageMoveTaskRequestTypeDef,
    )

PROG = "redrive"
DEFAULT_STACK = "notifier"
DEFAULT_REGION = "us-east-1"
MAX_RATE = 500  # StartMessageMoveTask's limit for MaxNumberOfMessagesPerSecond
VISIBILITY_TIMEOUT = 30  # seconds a received message stays hidden while its copy is sent
RECEIVE_WAIT_SECONDS = 1  # long polling: an empty answer means every SQS host had nothing visible
POLL_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 2.0
BATCH_BYTES = 256 * 1024  # SendMessageBatch's limit on the sum of its messages
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")

# An answer saying the service does not know the action. An emulator that fails on an unknown action
# with a bare HTTP 500 (moto's server) gives no AWS error document: botocore then reports the status
# code as the error code. A real AWS 500 has a code (InternalError) and is a failure, not a fallback.
_UNIMPLEMENTED_CODES = frozenset(
    {"NotImplemented", "NotImplementedException", "InvalidAction", "UnknownOperationException", "500", "501"}
)
_MISSING_QUEUE_CODES = frozenset({"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})
_FRIENDLY = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_LOGICAL_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ARN = re.compile(r"arn:[a-z-]+:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[\w.-]+)")

Output = Callable[[str], None]


class UsageError(Exception):
    """The command line is wrong: exit status 2."""


class RedriveError(Exception):
    """The redrive could not be done, or not completely: exit status 1."""


class MoveTaskUnavailableError(Exception):
    """The endpoint does not implement SQS's message move task."""


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class Target:
    """A DLQ and the queues of the stack whose RedrivePolicy sends their failures to it."""

    dlq: Queue
    sources: tuple[Queue, ...]


@dataclass
class Outcome:
    moved: int = 0
    unsent: dict[str, str] = field(default_factory=dict)  # message id -> why its copy was not sent
    undeleted: dict[str, str] = field(default_factory=dict)  # copied, but still in the DLQ
    left: int | None = None  # about how many messages the DLQ holds afterwards


# ---------------------------------------------------------------------------------------- finding


def logical_id_for(queue: str) -> str:
    """`email-critical` (or `email-critical-dlq`) -> `EmailCriticalDLQ`; a logical id as it is."""
    if _FRIENDLY.fullmatch(queue):
        words = re.split(r"[-_]", queue)
        if words[-1] == "dlq" and len(words) > 1:
            words = words[:-1]
        return "".join(word.capitalize() for word in words) + "DLQ"
    if _LOGICAL_ID.fullmatch(queue):
        return queue
    raise UsageError(
        f"QUEUE {queue!r} is not a name like email-critical, a logical id like EmailCriticalDLQ, "
        "a queue URL or a queue ARN"
    )


def friendly_name(logical_id: str) -> str:
    """`EmailCriticalDLQ` -> `email-critical`."""
    stem = logical_id.removesuffix("DLQ")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", stem).lower()


def template_dead_letter_queues() -> list[str]:
    """The template's DLQs (queues some queue's RedrivePolicy targets), for hints in refusals."""
    try:
        resources = load_template(TEMPLATE_PATH).get("Resources", {})
    except (OSError, yaml.YAMLError):
        return []
    found: set[str] = set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        target = resource.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            found.add(str(target["Fn::GetAtt"][0]))
    return sorted(found)


def find_target(sqs: SQSClient, queue: str, stack: str) -> Target:
    """The DLQ that `queue` names, with its source queues in `stack`; UsageError if there is none."""
    dlq = _find_queue(sqs, queue, stack)
    try:
        source_urls = [
            url
            for page in sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq.url)
            for url in page.get("queueUrls", [])
            if _name_of(url).startswith(f"{stack}-")
        ]
    except ClientError as exc:
        if _code(exc) not in _UNIMPLEMENTED_CODES:
            raise
        source_urls = _sources_by_redrive_policy(sqs, dlq, stack)
    if not source_urls:
        raise UsageError(
            f"{dlq.name} is not a dead-letter queue of stack {stack!r}: no queue {stack}-* has a "
            "RedrivePolicy whose deadLetterTargetArn is this queue"
        )
    return Target(dlq=dlq, sources=tuple(_describe(sqs, url) for url in sorted(source_urls)))


def _sources_by_redrive_policy(sqs: SQSClient, dlq: Queue, stack: str) -> list[str]:
    """The stack's queues whose RedrivePolicy names `dlq`, read one by one: for an endpoint without
    ListDeadLetterSourceQueues (MiniStack)."""
    found = []
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=f"{stack}-"):
        for url in page.get("QueueUrls", []):
            answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
            policy = json.loads(answer.get("Attributes", {}).get("RedrivePolicy", "{}"))
            if policy.get("deadLetterTargetArn") == dlq.arn:
                found.append(url)
    return found


def _find_queue(sqs: SQSClient, queue: str, stack: str) -> Queue:
    if queue.startswith(("http://", "https://")):
        return _existing(sqs, queue, f"no queue at {queue}")
    arn = _ARN.fullmatch(queue)
    if arn:
        try:
            url = sqs.get_queue_url(QueueName=arn["name"], QueueOwnerAWSAccountId=arn["account"])["QueueUrl"]
        except ClientError as exc:
            if _code(exc) in _MISSING_QUEUE_CODES:
                raise UsageError(f"no queue {queue}") from None
            raise
        return _describe(sqs, url)
    if queue.startswith("arn:"):
        raise UsageError(f"QUEUE {queue!r} is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)")
    prefix = f"{stack}-{logical_id_for(queue)}"
    # `<stack>-<LogicalId>` (the local stack) or `<stack>-<LogicalId>-<random>` (CloudFormation).
    matches = sorted(
        url
        for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix)
        for url in page.get("QueueUrls", [])
        if _name_of(url) == prefix or _name_of(url).startswith(f"{prefix}-")
    )
    if not matches:
        known = ", ".join(friendly_name(dlq) for dlq in template_dead_letter_queues())
        raise UsageError(
            f"no queue named {prefix} or {prefix}-* in {sqs.meta.region_name} at {sqs.meta.endpoint_url}"
            + (f"; the template's DLQs are {known}" if known else "")
            + " (or give the queue's URL or ARN)"
        )
    if len(matches) > 1:
        names = ", ".join(_name_of(url) for url in matches)
        raise UsageError(f"{queue!r} matches {len(matches)} queues ({names}); give the queue's URL or ARN")
    return _describe(sqs, matches[0])


def _existing(sqs: SQSClient, url: str, missing: str) -> Queue:
    try:
        return _describe(sqs, url)
    except ClientError as exc:
        if _code(exc) in _MISSING_QUEUE_CODES:
            raise UsageError(missing) from None
        raise


def _describe(sqs: SQSClient, url: str) -> Queue:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(name=arn.rsplit(":", 1)[-1], url=url, arn=arn)


def _name_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def approximate_count(sqs: SQSClient, queue: Queue, *, hidden_too: bool = False) -> int:
    names: list[QueueAttributeNameType] = ["ApproximateNumberOfMessages"]
    if hidden_too:
        names.append("ApproximateNumberOfMessagesNotVisible")
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, "0")) for name in names)


# ---------------------------------------------------------------------------------------- the move task


def start_move_task(sqs: SQSClient, target: Target, *, rate: int | None) -> str:
    """Start SQS's message move task (back to each message's source queue); its task handle."""
    request: StartMessageMoveTaskRequestTypeDef = {"SourceArn": target.dlq.arn}
    if rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        return sqs.start_message_move_task(**request)["TaskHandle"]
    except NotImplementedError as exc:  # moto in-process raises it instead of answering
        raise MoveTaskUnavailableError(str(exc)) from None
    except ClientError as exc:
        if _code(exc) in _UNIMPLEMENTED_CODES:
            raise MoveTaskUnavailableError(f"{_code(exc)} answer to StartMessageMoveTask") from None
        raise


def wait_for_move_task(
    sqs: SQSClient,
    target: Target,
    handle: str,
    *,
    out: Output,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until the move task ends; how many messages it moved. RedriveError unless it completed."""
    shown: tuple[str, int] | None = None
    try:
        while True:
            results = sqs.list_message_move_tasks(SourceArn=target.dlq.arn, MaxResults=1)["Results"]
            task: ListMessageMoveTasksResultEntryTypeDef = results[0] if results else {}
            status = task.get("Status", "PENDING")
            moved = task.get("ApproximateNumberOfMessagesMoved", 0)
            if status == "COMPLETED":
                return moved
            if status in TERMINAL_STATUSES:
                reason = task.get("FailureReason", "no reason given")
                raise RedriveError(f"the move task ended {status} after moving about {moved}: {reason}")
            if (status, moved) != shown:
                to_move = task.get("ApproximateNumberOfMessagesToMove")
                of = f" of about {to_move}" if to_move is not None else ""
                out(f"  {status.lower()}: about {moved}{of} moved")
                shown = (status, moved)
            sleep(poll_seconds)
    except KeyboardInterrupt:
        cancel = f"aws sqs cancel-message-move-task --task-handle {handle}"
        raise RedriveError(f"stopped waiting; the move task goes on (to stop it: {cancel})") from None


# ---------------------------------------------------------------------------------------- by hand


def move_by_hand(
    sqs: SQSClient,
    target: Target,
    *,
    out: Output,
    rate: int | None = None,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    wait_seconds: int = RECEIVE_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Receive, send to the source queue, delete from the DLQ only what was sent; until it is empty.

    A message whose copy could not be sent is left alone: it stays in the DLQ (visible again after
    `visibility_timeout`) and is not tried again in this run. One whose copy was sent but whose
    deletion failed (twice) is not sent again if it shows up again in this run: it is only deleted.
    """
    if target.dlq.name.endswith(".fifo"):
        raise RedriveError(f"{target.dlq.name} is a FIFO queue; moving it by hand is not supported")
    outcome = Outcome()
    deleting_again: set[str] = set()
    started = last_shown = clock()
    while True:
        received = sqs.receive_message(
            QueueUrl=target.dlq.url,
            MaxNumberOfMessages=min(10, rate or 10),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["AWSTraceHeader", "DeadLetterQueueSourceArn"],
        ).get("Messages", [])
        # Sent before but still here (its deletion failed): deleted, once more at most, not sent again.
        copied = [m for m in received if m["MessageId"] in outcome.undeleted.keys() - deleting_again]
        for message in copied:
            del outcome.undeleted[message["MessageId"]]
            deleting_again.add(message["MessageId"])
        _delete(sqs, target.dlq, copied, outcome)
        seen = deleting_again | outcome.undeleted.keys() | outcome.unsent.keys()
        fresh = [m for m in received if m["MessageId"] not in seen]
        if not fresh and not copied:
            break
        for source, messages in _by_source(fresh, target, outcome):
            for chunk in _chunks(messages):
                _copy_then_delete(sqs, target.dlq, source, chunk, outcome)
        if rate is not None:  # never ahead of `rate` messages per second since the start
            sleep(max(0.0, started + (outcome.moved + len(outcome.unsent)) / rate - clock()))
        if clock() - last_shown >= PROGRESS_EVERY_SECONDS:
            out(f"  moved {outcome.moved} so far")
            last_shown = clock()
    outcome.left = approximate_count(sqs, target.dlq, hidden_too=True)
    return outcome


def _by_source(
    messages: list[MessageTypeDef], target: Target, outcome: Outcome
) -> Iterator[tuple[Queue, list[MessageTypeDef]]]:
    """The messages grouped by the queue each came from (SQS says so in DeadLetterQueueSourceArn where
    it can; otherwise the DLQ's only source). One whose source is unknown is left in the DLQ."""
    sources = {queue.arn: queue for queue in target.sources}
    groups: dict[str, list[MessageTypeDef]] = {}
    for message in messages:
        arn = message.get("Attributes", {}).get("DeadLetterQueueSourceArn")
        if arn is None and len(target.sources) == 1:
            arn = target.sources[0].arn
        if arn in sources:
            groups.setdefault(arn, []).append(message)
        else:
            outcome.unsent[message["MessageId"]] = (
                f"its source queue {arn} is not a queue of the stack that uses this DLQ"
                if arn
                else "several queues use this DLQ and the message does not say which it came from"
            )
    for arn, group in groups.items():
        yield sources[arn], group


def _chunks(messages: list[MessageTypeDef]) -> Iterator[list[MessageTypeDef]]:
    """Batches of at most 10 whose total size SendMessageBatch accepts."""
    chunk: list[MessageTypeDef] = []
    size = 0
    for message in messages:
        message_size = _size(message)
        if chunk and (len(chunk) == 10 or size + message_size > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += message_size
    if chunk:
        yield chunk


def _size(message: MessageTypeDef) -> int:
    size = len(message.get("Body", "").encode())
    for name, value in message.get("MessageAttributes", {}).items():
        payload = value.get("StringValue", "").encode() or value.get("BinaryValue", b"")
        size += len(name.encode()) + len(value["DataType"].encode()) + len(payload)
    return size


def _copy_then_delete(
    sqs: SQSClient, dlq: Queue, source: Queue, messages: list[MessageTypeDef], outcome: Outcome
) -> None:
    by_id = {str(index): message for index, message in enumerate(messages)}
    try:
        answer = sqs.send_message_batch(
            QueueUrl=source.url, Entries=[_entry(entry_id, m) for entry_id, m in by_id.items()]
        )
    except ClientError as exc:
        for message in messages:
            outcome.unsent[message["MessageId"]] = _describe_error(exc)
        return
    for failure in answer.get("Failed", []):
        outcome.unsent[by_id[failure["Id"]]["MessageId"]] = _reason(failure)
    sent = [by_id[success["Id"]] for success in answer.get("Successful", [])]
    outcome.moved += len(sent)
    _delete(sqs, dlq, sent, outcome)


def _delete(sqs: SQSClient, dlq: Queue, messages: list[MessageTypeDef], outcome: Outcome) -> None:
    """Delete copied messages from the DLQ, trying a failed deletion once more straight away."""
    failed = [(message, "") for message in messages]
    for _ in range(2):
        if not failed:
            return
        batch = [message for message, _ in failed]
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(batch)
        ]
        try:
            answer = sqs.delete_message_batch(QueueUrl=dlq.url, Entries=entries)
        except ClientError as exc:
            failed = [(message, _describe_error(exc)) for message in batch]
        else:
            failed = [(batch[int(entry["Id"])], _reason(entry)) for entry in answer.get("Failed", [])]
    for message, reason in failed:
        outcome.undeleted[message["MessageId"]] = reason


def _reason(failure: BatchResultErrorEntryTypeDef) -> str:
    return f"{failure.get('Code', 'error')}: {failure.get('Message', 'no message')}"


def _entry(entry_id: str, message: MessageTypeDef) -> SendMessageBatchRequestEntryTypeDef:
    """The message as it was sent: body, message attributes and X-Ray trace header."""
    entry: SendMessageBatchRequestEntryTypeDef = {"Id": entry_id, "MessageBody": message["Body"]}
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        copied: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
        if "StringValue" in value:
            copied["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            copied["BinaryValue"] = value["BinaryValue"]
        attributes[name] = copied
    if attributes:
        entry["MessageAttributes"] = attributes
    trace = message.get("Attributes", {}).get("AWSTraceHeader")
    if trace:
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    return entry


# ---------------------------------------------------------------------------------------- command


def redrive(
    sqs: SQSClient,
    target: Target,
    *,
    out: Output,
    rate: int | None = None,
    wait: bool = True,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Move `target`'s messages back, by the move task where there is one; RedriveError if not all were."""
    sources = ", ".join(queue.name for queue in target.sources)
    out(f"{target.dlq.name} holds about {approximate_count(sqs, target.dlq)} message(s); source: {sources}")
    try:
        handle = start_move_task(sqs, target, rate=rate)
    except MoveTaskUnavailableError as exc:
        out(f"the message move task is not implemented at {sqs.meta.endpoint_url} ({exc}); moving by hand")
        _report(move_by_hand(sqs, target, out=out, rate=rate, sleep=sleep), target, out)
        return
    out(f"started message move task {handle}")
    if not wait:
        out(f"not waiting; follow it with: aws sqs list-message-move-tasks --source-arn {target.dlq.arn}")
        return
    moved = wait_for_move_task(sqs, target, handle, out=out, poll_seconds=poll_seconds, sleep=sleep)
    out(f"moved about {moved} message(s) from {target.dlq.name} back to their source queue")


def _report(outcome: Outcome, target: Target, out: Output) -> None:
    destination = ", ".join(queue.name for queue in target.sources)
    out(
        f"moved {outcome.moved} message(s) from {target.dlq.name} to {destination}; "
        f"about {outcome.left} left in the DLQ"
    )
    problems = []
    if outcome.unsent:
        first = next(iter(outcome.unsent.values()))
        problems.append(f"{len(outcome.unsent)} could not be sent and stay in the DLQ ({first})")
    if outcome.undeleted:
        first = next(iter(outcome.undeleted.values()))
        problems.append(
            f"{len(outcome.undeleted)} were sent but could not be deleted from the DLQ, so a later "
            f"redrive sends them again ({first})"
        )
    if problems:
        raise RedriveError("; ".join(problems))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Move a dead-letter queue's messages back to the queue they came from.",
    )
    parser.add_argument(
        "queue",
        metavar="QUEUE",
        help="the DLQ: email-critical, EmailCriticalDLQ (the template's logical id), a queue URL or ARN",
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="the stack's name (default: %(default)s)")
    parser.add_argument(
        "--region",
        help=f"default: the queue ARN's, else AWS_REGION or AWS_DEFAULT_REGION, else {DEFAULT_REGION}",
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL") or None,
        help="an emulator's URL, e.g. http://127.0.0.1:4566 for the local stack (default: AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--max-per-second", type=int, metavar="N", help=f"move at most N messages a second (1 to {MAX_RATE})"
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the move task ends (default: wait); moving by hand always waits",
    )
    return parser


def make_client(region: str | None, endpoint: str | None) -> SQSClient:
    """An SQS client; on a loopback emulator without credentials, the emulator's dummy ones."""
    session = boto3.session.Session(region_name=region)
    region = session.region_name or DEFAULT_REGION
    if endpoint and _is_loopback(endpoint) and session.get_credentials() is None:
        session = boto3.session.Session(
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - what any emulator accepts, not a secret
        )
    return session.client("sqs", region_name=region, endpoint_url=endpoint)


def _is_loopback(endpoint: str) -> bool:
    host = urlparse(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(
    argv: Sequence[str] | None = None,
    *,
    client: SQSClient | None = None,
    out: Output = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.max_per_second is not None and not 1 <= args.max_per_second <= MAX_RATE:
            raise UsageError(f"--max-per-second must be between 1 and {MAX_RATE}")
        arn = _ARN.fullmatch(args.queue)
        region = args.region or (arn["region"] if arn else None) or os.environ.get("AWS_REGION")
        sqs = client or make_client(region, args.endpoint)
        target = find_target(sqs, args.queue, args.stack)
        redrive(sqs, target, out=out, rate=args.max_per_second, wait=args.wait, sleep=sleep)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RedriveError as exc:
        print(f"{PROG}: failed: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"{PROG}: failed: {_describe_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the messages not yet moved stay in the DLQ", file=sys.stderr)
        return 1
    return 0


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe_error(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message", "")).splitlines()
        operation = exc.operation_name
        return f"{operation}: {_code(exc)}: {message[0] if message else 'no message'}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
