"""The local stack's execution environments (`devstack.lambda_runtime.ProcessPool`): each a process
of its own, as Lambda runs them; and the one outbox they all append to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devstack.lambda_runtime import InvocationError, ProcessPool
from devstack.outbox import OutboxFile
from devstack.provision import FunctionSpec

HANDLER = """
import os, time

invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "raise":
        raise ValueError("the payload has no recipient")
    if action == "exit":
        os._exit(3)
    return {
        "pid": os.getpid(),
        "invocations": invocations,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "variable": os.environ.get("ONLY_MINE"),
    }
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Callable[..., ProcessPool]]:
    (tmp_path / "app.py").write_text(HANDLER)
    made: list[ProcessPool] = []

    def make(*, timeout: int = 5, max_environments: int = 2, **options: object) -> ProcessPool:
        spec = FunctionSpec(
            "Fn", str(tmp_path), "app.handler", timeout=timeout, memory_size=128, environment={}
        )
        created = ProcessPool(
            spec,
            stack_name="local",
            region="us-east-1",
            account_id="123456789012",
            max_environments=max_environments,
            import_path=[],
            **options,  # type: ignore[arg-type]
        )
        made.append(created)
        return created

    yield make
    for created in made:
        created.stop()


def test_an_environment_keeps_its_module_state_and_its_functions_context(pool):
    environments = pool()

    first = environments.invoke({})
    second = environments.invoke({})

    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert first["function_name"] == "local-Fn"
    assert 4_000 < first["remaining_ms"] <= 5_000


def test_invocations_in_flight_together_run_at_once_in_environments_of_their_own(pool):
    environments = pool(max_environments=2)

    started = time.monotonic()
    with ThreadPoolExecutor(2) as callers:
        answers = list(callers.map(environments.invoke, [{"action": "sleep", "seconds": 1}] * 2))
    took = time.monotonic() - started

    assert len({answer["pid"] for answer in answers}) == 2
    assert took < 1.8  # side by side, not one after the other (2 s)


def test_no_more_environments_than_the_limit_are_made(pool):
    environments = pool(max_environments=1)

    with ThreadPoolExecutor(3) as callers:
        answers = list(callers.map(environments.invoke, [{"action": "sleep", "seconds": 0.2}] * 3))

    assert len({answer["pid"] for answer in answers}) == 1
    assert sorted(answer["invocations"] for answer in answers) == [1, 2, 3]


def test_each_environment_started_is_a_cold_start_counted_and_logged(pool):
    lines: list[str] = []
    environments = pool(max_environments=2, log=lines.append)  # one started warm
    assert environments.cold_starts == 1

    with ThreadPoolExecutor(2) as callers:
        list(callers.map(environments.invoke, [{"action": "sleep", "seconds": 0.5}] * 2))
    environments.invoke({})

    assert environments.cold_starts == 2
    assert [line.split(" (")[0] for line in lines] == [
        "Fn: cold start of environment 0",
        "Fn: cold start of environment 1",
    ]
    assert all(" ms, " in line for line in lines)


def test_an_invocation_past_the_timeout_ends_its_environment_and_the_next_gets_a_fresh_one(pool):
    environments = pool(timeout=1, max_environments=1)
    before = environments.invoke({})

    with pytest.raises(InvocationError, match="timed out after 1 s"):
        environments.invoke({"action": "sleep", "seconds": 30})
    after = environments.invoke({})

    assert after["pid"] != before["pid"]
    assert after["invocations"] == 1  # a cold start
    with pytest.raises(ProcessLookupError):  # killed, as Lambda ends a timed-out environment
        os.kill(before["pid"], 0)


def test_an_environment_that_dies_is_replaced(pool):
    environments = pool(max_environments=1)
    before = environments.invoke({})

    with pytest.raises(InvocationError, match="ended"):
        environments.invoke({"action": "exit"})

    assert environments.invoke({})["pid"] != before["pid"]


def test_an_exception_is_the_functions_error_and_the_environment_stays(pool):
    environments = pool(max_environments=1)
    before = environments.invoke({})

    with pytest.raises(InvocationError, match="ValueError: the payload has no recipient") as raised:
        environments.invoke({"action": "raise"})

    assert raised.value.error_message == "the payload has no recipient"
    assert environments.invoke({})["pid"] == before["pid"]


def test_each_environment_has_the_variables_it_is_given(pool):
    mine = pool(environment={"ONLY_MINE": "email", "PATH": "/usr/bin:/bin"})
    theirs = pool()

    assert mine.invoke({})["variable"] == "email"
    assert theirs.invoke({})["variable"] is None


def test_a_handler_that_cannot_be_imported_fails_as_an_init_error(pool, tmp_path: Path):
    (tmp_path / "app.py").write_text("raise RuntimeError('TOPIC_ARN is not set')\n")

    with pytest.raises(InvocationError, match="could not start: init: RuntimeError: TOPIC_ARN is not set"):
        pool()


# ---------------------------------------------------------------------------------------- the outbox

APPENDER = """
import sys
from notifier.providers.sandbox import Outbox, OutboxEntry

outbox = Outbox(sys.argv[1])
for index in range(int(sys.argv[3])):
    outbox.add(OutboxEntry(f"{sys.argv[2]}-{index}", "email", "a@example.com", {"text": "x" * 9000}, "m"))
"""


def test_environments_appending_to_one_outbox_at_once_leave_whole_lines(tmp_path: Path):
    outbox = tmp_path / "outbox.jsonl"
    layer = str(Path(__file__).parents[2] / "layers" / "common")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(APPENDER), str(outbox), f"w{n}", "150"],
            env={"PYTHONPATH": layer},
        )
        for n in range(4)
    ]
    assert [writer.wait(timeout=60) for writer in writers] == [0] * 4

    entries = OutboxFile(outbox).entries()

    assert len(entries) == 600
    assert len({entry["notification_id"] for entry in entries}) == 600
    assert all(len(entry["content"]["text"]) == 9000 for entry in entries)


def test_a_line_still_being_written_is_read_next_time(tmp_path: Path):
    outbox = tmp_path / "outbox.jsonl"
    whole = json.dumps({"notification_id": "n-1"}) + "\n"
    outbox.write_text(whole + '{"notification_id": "n-')
    reader = OutboxFile(outbox)

    assert reader.entries() == [{"notification_id": "n-1"}]
    with outbox.open("a") as appended:
        appended.write('2"}\n')
    assert reader.entries() == [{"notification_id": "n-1"}, {"notification_id": "n-2"}]
    assert reader.entries(start=1) == [{"notification_id": "n-2"}]
    assert OutboxFile(tmp_path / "none.jsonl").entries() == []
