"""The local stack's emulator keeps DynamoDB's promise that one write to an item never undoes another
running at the same time (devstack.emulator): a status row written by a consumer while the publish
function records ACCEPTED ends where the consumer put it, over real HTTP, race after race."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.emulator import MINISTACK, MiniStackProcess, start_emulator
from devstack.process import free_port
from devstack.provision import provision
from devstack.template import REPO_ROOT, Stack, load_template
from notifier.models.channels import Channel
from notifier.stores.status import StatusStore
from tests.factories import email_envelope

RACES = 120
"""Before the emulator serialized DynamoDB, 29 of 400 such races lost the consumer's write: the chance
that 120 all come out right without it is below 1 in 5,000."""


@pytest.fixture(scope="module", params=["moto", "ministack"])
def store(request: pytest.FixtureRequest) -> Iterator[StatusStore]:
    """The status store on each emulator the local stack can start (MiniStack when it is installed, as
    make run and make test install it)."""
    server: Any
    if request.param == "ministack":
        if not MINISTACK.exists():
            pytest.skip(f"MiniStack is not installed at {MINISTACK}")
        server = MiniStackProcess("127.0.0.1", 0, account_id="123456789012").start()
    else:
        server = start_emulator("127.0.0.1", 0)
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        def client(service: str) -> Any:
            return boto3.client(  # type: ignore[call-overload]
                service,
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )

        stack = Stack(load_template())
        deployment = provision(stack, client=client)
        table = deployment.functions["EmailFunction"].environment["STATUS_TABLE"]
        yield StatusStore(table, ttl_days=1, client=client("dynamodb"))
    finally:
        server.stop()


def _at_once(*writes: Callable[[], Any]) -> list[Any]:
    """Each write on its own thread, all let go at the same instant; what each returned."""
    start = threading.Barrier(len(writes))
    answers: list[Any] = [None] * len(writes)

    def run(i: int) -> None:
        start.wait()
        answers[i] = writes[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_suppression_racing_the_publish_functions_accepted_is_never_undone(store):
    ended: Counter[Any] = Counter()
    for _ in range(RACES):
        envelope = email_envelope()
        _at_once(
            partial(store.accept, envelope),
            partial(store.suppress, envelope, Channel.EMAIL, "recipient opted out of email"),
        )
        status = store.get(envelope.notification_id)
        assert status is not None
        ended[status.channels[Channel.EMAIL].status] += 1

    assert ended == {"SUPPRESSED": RACES}


def test_an_attempt_racing_the_publish_functions_accepted_keeps_its_lease_and_count(store):
    ended: Counter[Any] = Counter()
    for _ in range(RACES):
        envelope = email_envelope()
        _, claim = _at_once(
            partial(store.accept, envelope),
            partial(store.begin_attempt, envelope, Channel.EMAIL, lease_seconds=60),
        )
        status = store.get(envelope.notification_id)
        assert status is not None
        email = status.channels[Channel.EMAIL]
        # The lease is still held: a second copy of the message is told to wait, not to send.
        again = store.begin_attempt(envelope, Channel.EMAIL, lease_seconds=60)
        ended[(claim.granted, email.status, email.attempts, again.busy)] += 1

    assert ended == {(True, "QUEUED", 1, True): RACES}


def test_a_cancel_racing_the_release_of_a_scheduled_notification_has_one_winner(store):
    """Issue 20's race, forced: a schedule fires (release) while the sender cancels. Exactly one of the
    two conditional writes wins, and a cancelled notification is never released to be sent."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415 - this test's alone

    ended: Counter[Any] = Counter()
    for _ in range(RACES):
        envelope = email_envelope()
        store.schedule(envelope, datetime.now(UTC) + timedelta(minutes=5))
        released, cancelled = _at_once(
            partial(store.release, envelope.notification_id, [Channel.EMAIL]),
            partial(store.cancel, envelope.notification_id),
        )
        status = cancelled.channels[Channel.EMAIL].status if cancelled else None
        final = store.get(envelope.notification_id)
        assert final is not None
        ended[(tuple(released), final.channels[Channel.EMAIL].status, status)] += 1

    winners = {(released, final) for released, final, _ in ended}
    assert winners <= {((Channel.EMAIL,), "ACCEPTED"), ((), "CANCELLED")}
    assert sum(ended.values()) == RACES


STARTS_MINISTACK = """
import sys
from devstack.emulator import MiniStackProcess

ministack = MiniStackProcess("127.0.0.1", 0, account_id="123456789012").start()
print(ministack.process.pid, flush=True)
sys.stdin.read()
"""


def test_ministack_ends_with_the_process_that_started_it_however_that_ends():
    if not MINISTACK.exists():
        pytest.skip(f"MiniStack is not installed at {MINISTACK}")
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTS_MINISTACK],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        ministack = int(parent.stdout.readline())
        os.kill(ministack, 0)  # running
        parent.kill()  # no chance to stop it: SIGKILL
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _running(ministack):
            time.sleep(0.1)
        assert not _running(ministack)
    finally:
        parent.kill()


def test_ministack_stops_at_once_though_a_long_poll_is_waiting_in_it():
    """MiniStack ends on SIGTERM only once every receive still waiting has (up to 20 s): the local
    stack's pollers leave theirs waiting when it stops."""
    if not MINISTACK.exists():
        pytest.skip(f"MiniStack is not installed at {MINISTACK}")
    ministack = MiniStackProcess("127.0.0.1", free_port(), account_id="123456789012").start()
    host, port = ministack.get_host_and_port()
    sqs = boto3.client(
        "sqs", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    url = sqs.create_queue(QueueName="waited-on")["QueueUrl"]
    answers: list[object] = []

    def receive() -> None:
        try:
            answers.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
        except Exception as exc:  # what cut the poll is the point
            answers.append(exc)

    waiting = threading.Thread(target=receive, daemon=True)
    waiting.start()
    time.sleep(0.5)

    started = time.monotonic()
    ministack.stop()

    assert time.monotonic() - started < ministack.stop_grace_seconds + 2
    assert ministack.process is not None
    assert not _running(ministack.process.pid)
    waiting.join(timeout=10)
    [cut] = answers
    assert isinstance(cut, Exception)  # the poll was still waiting: stopped under it, not answered


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, and not a zombie waiting for a parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
