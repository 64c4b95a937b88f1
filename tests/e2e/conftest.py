"""End-to-end tests: the local stack in a child process, on free loopback ports, over HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.emulator import MiniStackProcess
from devstack.process import LocalStackProcess, free_port
from devstack.stack import LocalConfig

_LOG_LINES_ON_FAILURE = 120
ACCOUNT_ID = LocalConfig.account_id


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """When a test that used a local stack fails, its report ends with the stack's log: what the
    functions said is often the only account of why a notification did not arrive."""
    report: pytest.TestReport = yield
    if report.failed:
        stacks = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, LocalStackProcess)]
        for stack in stacks:
            tail = "\n".join(stack.log().splitlines()[-_LOG_LINES_ON_FAILURE:])
            report.sections.append((f"local stack log ({stack.log_path}, last lines)", tail))
    return report


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[str]:
    """One MiniStack for the e2e stacks of this test process, each stack under a name of its own: a
    stack then starts in about 2 s rather than 4, the emulator already up with its services loaded.
    (Starting and stopping a stack's own emulator is tested in test_local_stack.py.)"""
    ministack = MiniStackProcess("127.0.0.1", free_port(), account_id=ACCOUNT_ID).start()
    host, port = ministack.get_host_and_port()
    yield f"http://{host}:{port}"
    ministack.stop()


def stack_on(endpoint: str, folder: Path, **options: Any) -> LocalStackProcess:
    """A local stack on the shared emulator at `endpoint`, named apart from every other stack there.
    Its functions' environments start on their first invocations, as in Lambda (`make run` starts one
    of each before it is ready): a test's stack starts none of the functions it does not use."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    options.setdefault("warm_environments", 0)
    return LocalStackProcess(folder / "local.log", endpoint=endpoint, stack_name=name, **options).start()


@pytest.fixture(scope="module")
def local(tmp_path_factory, shared_emulator) -> Iterator[LocalStackProcess]:
    stack = stack_on(shared_emulator, tmp_path_factory.mktemp("local"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def fast(tmp_path_factory, shared_emulator) -> Iterator[LocalStackProcess]:
    """The local stack of `make run PROFILE=fast`: short timeouts and backoff, 5 s digest windows. As
    warm as `make run`'s: its tests hold scheduled sends and digests to their moments, within seconds
    that two cold starts on the way (the due function's, then the channel's) would take on a busy run."""
    stack = stack_on(shared_emulator, tmp_path_factory.mktemp("fast"), profile="fast", warm_environments=None)
    yield stack
    stack.stop()


def wait_for(condition: Callable[[], Any], timeout: float = 20, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s: {condition}")


def wait_for_value(read: Callable[[], Any], expected: Any, timeout: float = 20, every: float = 0.1) -> None:
    """Wait until `read()` answers `expected`; when it does not in time, say what it answered last."""
    last: list[Any] = []

    def matches() -> bool:
        last[:] = [read()]
        return bool(last[0] == expected)

    try:
        wait_for(matches, timeout, every)
    except AssertionError:
        raise AssertionError(f"after {timeout} s still {last[0]!r}, not {expected!r}") from None


def emulator(local: LocalStackProcess, service: str) -> Any:
    return boto3.client(service, endpoint_url=local.endpoint, region_name="us-east-1")  # type: ignore[call-overload]


def messages_in_queues(local: LocalStackProcess) -> int:
    sqs = emulator(local, "sqs")
    total = 0
    for url in sqs.list_queues(QueueNamePrefix=local.physical_name("")).get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return total
