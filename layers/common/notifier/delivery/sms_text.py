"""SMS length: how many segments a text is sent (and billed) as, GSM-7 or UCS-2, and an SMS template
filled to fit SMS_MAX_SEGMENTS of them, its values cut before its end."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from notifier.delivery.catalog import fill, placeholder_names

SMS_MAX_SEGMENTS = 2
"""Rendered event texts are cut to fit: each segment is billed, and a text is meant to be read at a glance."""

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Sent as escape + character, so each takes two septets.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENSION


def sms_segments(text: str) -> int:
    """How many segments `text` is sent (and billed) as.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters take two septets):
    160 septets fit one segment, and a longer text is split into parts of 153 (the rest of 160 holds
    the concatenation header). Any other character switches the whole text to UCS-2: 70 UTF-16 code
    units in one segment, 67 per part, an emoji taking two. A part never splits an escape sequence or
    a surrogate pair, so a character that would straddle a boundary starts the next part.
    """
    if _is_gsm7(text):
        units = [2 if char in _GSM7_EXTENSION else 1 for char in text]
        single, part = 160, 153
    else:
        units = [len(char.encode("utf-16-le")) // 2 for char in text]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > part:
            parts, used = parts + 1, 0
        used += unit
    return parts


def _is_gsm7(text: str) -> bool:
    return all(char in _GSM7 for char in text)


def _ellipsis(text: str) -> str:
    """The cut marker for `text`: "…" is not GSM-7, so it would turn a GSM-7 text into UCS-2."""
    return "..." if _is_gsm7(text) else "…"


def fit_sms(template: str, fields: Mapping[str, str]) -> str:
    """`template` filled with `fields` (`catalog.fill`), in at most SMS_MAX_SEGMENTS segments.

    A long text is almost always a long payload value (a name, a type), so those are cut first: all
    values the text uses are capped at the longest length that fits, which cuts only the longest
    ones and keeps the sentence whole. Only when even empty values would not fit (the template
    itself is too long) is the text's end cut.
    """
    text = fill(template, fields)
    if _fits(text):
        return text
    used = placeholder_names(template) & fields.keys()

    def capped(cap: int) -> str:
        cut = {name: fields[name][:cap].rstrip() for name in used if len(fields[name]) > cap}
        marker = _ellipsis(fill(template, {**fields, **cut}))
        return fill(template, {**fields, **{name: value + marker for name, value in cut.items()}})

    longest = max((len(fields[name]) for name in used), default=0)
    cap = _largest(0, longest - 1, lambda cap: _fits(capped(cap)))
    if cap is not None:
        return capped(cap)

    def prefix(length: int) -> str:
        kept = text[:length].rstrip()
        return kept + _ellipsis(kept)

    return prefix(_largest(0, len(text), lambda length: _fits(prefix(length))) or 0)


def _fits(text: str) -> bool:
    return sms_segments(text) <= SMS_MAX_SEGMENTS


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest value in [low, high] that fits, by bisection (a shorter text never needs more
    segments), or None when none does."""
    best = None
    while low <= high:
        middle = (low + high) // 2
        if fits(middle):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best
