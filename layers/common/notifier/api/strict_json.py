"""JSON request bodies parsed strictly and within bounds, before any model sees them.

Python's `json` accepts what no other JSON parser should have to read back: `NaN` and `Infinity`,
numbers of any length (and raises a plain ValueError past 4,300 digits), strings holding a lone UTF-16
surrogate (which cannot be encoded again, so the SNS message fails to build), the same key twice (the
last one silently wins), and nesting as deep as the C stack allows (a RecursionError). `loads` refuses
each of them with `InvalidBodyError`, naming the field when it can and `body` when it cannot, so a
client always gets a 400 and nothing downstream meets a value it cannot serialize.

Plain syntax errors are left to `json.JSONDecodeError`, which the API answers as "invalid_json".
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from notifier.errors import InvalidBodyError

MAX_DEPTH = 32
"""Arrays and objects nested in each other, the outermost counting 1."""
MAX_NUMBER_CHARS = 32
"""Characters of one number as written: a 64-bit integer has 20 at most, a double's repr 24."""

_OPENING = frozenset("[{")
# A JSON string, quotes included (the unrolled form: linear, no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
# A \u escape of a UTF-16 surrogate: only these can leave a lone surrogate in a parsed string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(text: str) -> Any:
    """`text` parsed as JSON with the limits above; InvalidBodyError or JSONDecodeError when refused."""
    _check_depth(text)
    value = json.loads(
        text,
        parse_int=_integer,
        parse_float=_float,
        parse_constant=_constant,
        object_pairs_hook=_object,
    )
    if _SURROGATE_ESCAPE.search(text):
        for path, string in _strings(value, ()):
            if _has_surrogate(string):
                raise InvalidBodyError({_field(path): "contains a lone UTF-16 surrogate (not Unicode text)"})
    return value


def _check_depth(text: str) -> None:
    # Only a text with more than MAX_DEPTH opening brackets can nest deeper than MAX_DEPTH.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    brackets = _BRACKET.findall(_STRING.sub("", text))
    depth = max(accumulate(1 if b in _OPENING else -1 for b in brackets), default=0)
    if depth > MAX_DEPTH:
        raise InvalidBodyError({"body": f"nested more than {MAX_DEPTH} levels deep"})


def _integer(digits: str) -> int:
    if len(digits) > MAX_NUMBER_CHARS:
        raise InvalidBodyError({"body": f"a number longer than {MAX_NUMBER_CHARS} characters"})
    return int(digits)


def _float(written: str) -> float:
    if len(written) > MAX_NUMBER_CHARS:
        raise InvalidBodyError({"body": f"a number longer than {MAX_NUMBER_CHARS} characters"})
    value = float(written)
    if not math.isfinite(value):
        raise InvalidBodyError({"body": f"the number {written} is too large for a double"})
    return value


def _constant(name: str) -> Any:
    raise InvalidBodyError({"body": f"{name} is not a JSON number"})


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        twice = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise InvalidBodyError({"body": f"the key {twice!r} appears twice in one object"})
    return value


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in `value` (keys too), with where it is. Depth is bounded by `_check_depth`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, str(index)))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _field(path: tuple[str, ...]) -> str:
    return ".".join(path) or "body"
