"""The cyclic garbage collector around a cold start, the same in every handler module.

Init and the first invocation build long-lived objects (modules, models, clients, the vendor's
client) and free almost none, so the collector would scan them some 200 times for nothing: 30 to 45
ms during init, 2 to 8 ms more in the first invocation. So each handler module calls `pause()` before
its other imports and `init_done()` at its end, which freezes what init built (the collector never
scans it again), and its handler calls `first_invocation_done()` when each invocation ends. After
the first, that freezes what the invocation built too (otherwise the first collection would scan the
vendor SDK it imported, 4 to 11 ms, to find some 35 cyclic leftovers, which stay) and resumes
collection; after any other, it does nothing.

Only the standard library here: handler modules import this before anything else.
"""

from __future__ import annotations

import gc


def pause() -> None:
    gc.disable()


def init_done() -> None:
    gc.freeze()


def first_invocation_done() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
