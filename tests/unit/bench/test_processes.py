"""bench.processes: the CPU the local stack's processes took, by what each is."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.processes import cpu_by_role

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ninput()\n"


def _child(*words: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", BURN, *words], stdin=subprocess.PIPE, text=True)
    return child


def test_each_process_under_the_root_is_counted_by_what_it_is():
    worker = _child("devstack.worker", "--name", "notifier-PublishFunction")
    emulator = _child("devstack.emulator")
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:  # until both have burnt their 0.3 s
            taken = cpu_by_role(os.getpid())
            if taken.get("PublishFunction", 0) >= 0.25 and taken.get("emulator", 0) >= 0.25:
                break
            time.sleep(0.05)
    finally:
        for child in (worker, emulator):
            child.communicate("\n", timeout=10)

    assert taken["PublishFunction"] >= 0.25
    assert taken["emulator"] >= 0.25
    assert taken["local-stack"] > 0  # this process, the root
    assert set(taken) <= {"local-stack", "PublishFunction", "emulator", "other"}


def test_a_process_that_is_gone_counts_for_nothing():
    assert cpu_by_role(2**22 + 12345) == {}
