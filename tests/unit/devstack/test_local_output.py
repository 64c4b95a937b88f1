"""The local stack's output: concurrent writers never run into each other's lines."""

from __future__ import annotations

import io
import json
import threading

from devstack.output import _WholeLines


def test_lines_written_in_pieces_by_many_threads_come_out_whole():
    target = io.StringIO()
    out = _WholeLines(target, threading.Lock())
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        for i in range(200):
            out.write(json.dumps({"thread": n, "i": i}))  # as print() does: the text,
            out.write("\n")  # then the newline, in a second write

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = target.getvalue().splitlines()
    assert len(lines) == 8 * 200
    assert sorted((r["thread"], r["i"]) for r in map(json.loads, lines)) == [
        (n, i) for n in range(8) for i in range(200)
    ]


def test_flush_writes_the_unfinished_line():
    target = io.StringIO()
    out = _WholeLines(target, threading.Lock())
    out.write("ready: ")
    assert target.getvalue() == ""
    out.flush()
    assert target.getvalue() == "ready: "
