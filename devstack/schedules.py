"""One-time EventBridge Scheduler schedules, fired the way the Scheduler fires them into SQS.

What AWS does. A schedule with `at(yyyy-mm-ddThh:mm:ss)` fires once, at that wall-clock time in its
`ScheduleExpressionTimezone` (an IANA name; UTC when absent), within the minute: one set for 1:00
"will invoke the target API between 1:00:00 and 1:00:59"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). A DISABLED schedule
does not fire. A templated SQS target (`Target.Arn` = a queue ARN) gets `Target.Input` as the
message body (`SqsParameters.MessageGroupId` for a FIFO queue), with the context attributes such as
`<aws.scheduler.scheduled-time>` filled in
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html,
https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
Delivery is at least once: a target may receive a schedule more than once. A failed invocation is
retried under `Target.RetryPolicy`, then a dead-letter event goes to `Target.DeadLetterConfig.Arn`, a
standard queue (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html).
With `ActionAfterCompletion: DELETE` the schedule is deleted once it has fired.

moto (5.2.5) stores schedules but never fires them and never deletes them
(/work/design-notes/issue20-research.md, finding 4 and C.1), so the local stack has this firer. It
works through boto3 alone, against moto in this process or any emulator: every `poll_seconds` it
lists the group's schedules, reads each new (or modified) one once with GetSchedule, and when an
`at()` one is due sends its Input, context attributes filled in, to the queue its target ARN names
(the queue URL resolved once per ARN, through GetQueueUrl); then, with DELETE, deletes it.

How it differs from AWS:

- It fires at the second, once, not at least once within the minute. A schedule is marked fired
  before it is sent and deleted after; one that is kept (`ActionAfterCompletion: NONE`) is not fired
  again unless it is modified (UpdateSchedule), which makes it a new schedule here.
- Only one-time `at()` schedules fire. `rate()` and `cron()` ones are skipped with a log line.
- Only SQS queue targets. Any other target, or a send that fails, is not retried: the Input goes to
  the dead-letter queue when the schedule has one (with the message attributes ERROR_CODE,
  ERROR_MESSAGE, SCHEDULE_ARN and TARGET_ARN: the body and attribute names of AWS's dead-letter
  event were not checked here), and a log line says what happened either way.
- A wall time that a daylight-saving change skips (02:30 on the night Europe/Madrid goes from 02:00
  to 03:00) is read as zoneinfo reads it, with the offset from before the change: it fires at 03:30
  local time (01:30 UTC). A wall time that happens twice fires at its first occurrence. The AWS docs
  describe this for cron schedules only. The design passes UTC anyway (research, A.2).
- StartDate, EndDate, FlexibleTimeWindow, RetryPolicy, RoleArn and KmsKeyArn are ignored.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import BotoCoreError, ClientError

_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_SQS_ARN = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:(\d{12}):([A-Za-z0-9_-]+(?:\.fifo)?)")
_JOIN_SECONDS = 5  # stop() waits this much longer than one poll for a pass under way


class ScheduleFirer:
    """Fires the due one-time schedules of one schedule group into SQS, on a daemon thread.

    EventBridge Scheduler delivers at least once, within the schedule's minute; this fires at the
    second (within `poll_seconds`), once. `fire_due(now)` is one pass, what the thread runs every
    `poll_seconds`; tests call it with the `now` they choose.
    """

    def __init__(
        self,
        scheduler: Any,
        sqs: Any,
        group: str,
        *,
        poll_seconds: float = 0.25,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.scheduler = scheduler
        self.sqs = sqs
        self.group = group
        self.poll_seconds = poll_seconds
        self.log = log
        self.fired: list[str] = []
        """The names of the schedules fired (sent to their target or their dead-letter queue)."""
        self._schedules: dict[str, tuple[Any, dict[str, Any]]] = {}
        """name -> (the LastModificationDate listed, what GetSchedule read then)"""
        self._done: set[tuple[str, Any]] = set()
        """(name, LastModificationDate) of each schedule fired, or skipped for good (logged once)."""
        self._queue_urls: dict[str, str] = {}
        self._pass = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedules-{group}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.poll_seconds + _JOIN_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.fire_due(datetime.now(UTC))
            except Exception as exc:  # the emulator went away, or a network hiccup: try again next time
                self.log(f"schedules {self.group}: {exc}")

    # ------------------------------------------------------------------ one pass

    def fire_due(self, now: datetime) -> list[str]:
        """Fires every schedule of the group due at `now` (timezone-aware); returns their names."""
        with self._pass:
            fired: list[str] = []
            for name, modified in self._list():
                schedule = self._read(name, modified)
                if schedule is None or (name, modified) in self._done:
                    continue
                due = self._due(schedule)
                if due is None:
                    self._done.add((name, modified))
                elif schedule.get("State", "ENABLED") == "ENABLED" and due <= now:
                    self._done.add((name, modified))  # before the send: never fired twice
                    self._fire(schedule, due)
                    fired.append(name)
            self.fired += fired
            return fired

    def _list(self) -> list[tuple[str, Any]]:
        """(name, LastModificationDate) of each schedule in the group; forgets those gone."""
        listed: dict[str, Any] = {}
        for page in self.scheduler.get_paginator("list_schedules").paginate(GroupName=self.group):
            for summary in page["Schedules"]:
                listed[summary["Name"]] = summary.get("LastModificationDate") or summary.get("CreationDate")
        for gone in set(self._schedules) - set(listed):
            del self._schedules[gone]
        self._done = {done for done in self._done if done[0] in listed}
        return list(listed.items())

    def _read(self, name: str, modified: Any) -> dict[str, Any] | None:
        cached = self._schedules.get(name)
        if cached is not None and cached[0] == modified:
            return cached[1]
        try:
            schedule: dict[str, Any] = self.scheduler.get_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":  # else deleted since the listing
                self.log(f"schedule {self.group}/{name}: cannot read it: {exc}")
            return None
        self._schedules[name] = (modified, schedule)
        return schedule

    def _due(self, schedule: dict[str, Any]) -> datetime | None:
        """When an at() schedule is due; None (logged) for one that this firer never fires."""
        where = f"schedule {self.group}/{schedule['Name']}"
        expression = schedule.get("ScheduleExpression", "")
        match = _AT.fullmatch(expression)
        if match is None:
            self.log(f"{where}: {expression!r} skipped: only one-time at() schedules fire locally")
            return None
        zone = schedule.get("ScheduleExpressionTimezone") or "UTC"
        try:
            return datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(zone))
        except (ValueError, ZoneInfoNotFoundError) as exc:
            self.log(f"{where}: {expression!r} in {zone!r} skipped: {exc}")
            return None

    def _fire(self, schedule: dict[str, Any], due: datetime) -> None:
        where = f"schedule {self.group}/{schedule['Name']}"
        target = schedule.get("Target", {})
        body = _with_context(target.get("Input", ""), schedule, due)
        try:
            url = self._queue_url(target.get("Arn", ""))
            group_id = target.get("SqsParameters", {}).get("MessageGroupId")
            extra = {"MessageGroupId": group_id} if group_id else {}
            self.sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
        except (ClientError, BotoCoreError, ValueError) as exc:
            self._dead_letter(schedule, body, exc)
        else:
            self.log(f"{where}: fired")
        if schedule.get("ActionAfterCompletion") == "DELETE":
            try:
                self.scheduler.delete_schedule(Name=schedule["Name"], GroupName=self.group)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":  # else cancelled meanwhile: as good
                    self.log(f"{where}: fired, but not deleted: {exc}")

    def _dead_letter(self, schedule: dict[str, Any], body: str, error: Exception) -> None:
        where = f"schedule {self.group}/{schedule['Name']}"
        target = schedule.get("Target", {})
        dlq = target.get("DeadLetterConfig", {}).get("Arn")
        if not dlq:
            self.log(f"{where}: not delivered, and no dead-letter queue: {error}")
            return
        code = _code(error) if isinstance(error, ClientError) else type(error).__name__
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": str(error),
            "SCHEDULE_ARN": schedule.get("Arn", ""),
            "TARGET_ARN": target.get("Arn", ""),
        }
        try:
            self.sqs.send_message(
                QueueUrl=self._queue_url(dlq),
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value or "-"}
                    for name, value in attributes.items()
                },
            )
        except (ClientError, BotoCoreError, ValueError) as exc:
            self.log(f"{where}: not delivered ({error}), nor to its dead-letter queue {dlq}: {exc}")
        else:
            self.log(f"{where}: not delivered, sent to its dead-letter queue {dlq}: {error}")

    def _queue_url(self, arn: str) -> str:
        url = self._queue_urls.get(arn)
        if url is None:
            match = _SQS_ARN.fullmatch(arn)
            if match is None:
                raise ValueError(f"{arn!r} is not an SQS queue ARN: only SQS targets fire locally")
            account, name = match.groups()
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._queue_urls[arn] = url
        return url


def _with_context(body: str, schedule: dict[str, Any], due: datetime) -> str:
    """The Input with Scheduler's context attributes filled in."""
    context = {
        "<aws.scheduler.schedule-arn>": schedule.get("Arn", ""),
        "<aws.scheduler.scheduled-time>": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in context.items():
        body = body.replace(placeholder, value)
    return body


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
