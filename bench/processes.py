"""The CPU time the local stack's processes took, by what each is: the stack itself (its API, event
sources and gateways), the emulator, and each function's execution environments together (Linux'
/proc; an environment that ended before the second reading is not counted)."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, or None."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _role(pid: int) -> str:
    try:
        arguments = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    words = [word.decode(errors="replace") for word in arguments if word]
    if "devstack.worker" in words:
        name = words[words.index("--name") + 1] if "--name" in words else "function"
        return name.rsplit("-", 1)[-1]  # notifier-PublishFunction -> PublishFunction
    if any("ministack" in word for word in words) or "devstack.emulator" in words:
        return "emulator"
    return "other"


def cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds so far of `root` (as "local-stack") and of every process under it, by role."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], seconds[int(entry.name)] = stat
    under = {root}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in under} - under
        under |= found
        grew = bool(found)
    taken: dict[str, float] = {}
    for pid in under:
        if pid in seconds:
            role = "local-stack" if pid == root else _role(pid)
            taken[role] = taken.get(role, 0.0) + seconds[pid]
    return taken
