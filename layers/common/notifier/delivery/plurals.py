"""Plural categories: which form of a text a number takes in a language ("1 other", "3 others").

The rules are CLDR's cardinal rules (https://cldr.unicode.org, `plurals.xml`) for the languages the
templates ship in, for whole numbers only: a digest counts events. Languages differ in more than
where "one" ends: French and Portuguese put 0 in it ("0 personne", where English says "0 people"), and
Spanish, French and Portuguese have a "many" form for millions ("1 000 000 de personnes").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

PluralCategory = Literal["one", "many", "other"]
"""The CLDR categories the rules below give; a language with others (zero, two, few) adds its rule
here and its category to this type, and the templates then accept that form."""
PluralRule = Callable[[int], PluralCategory]


def _one_if_1(n: int) -> PluralCategory:
    return "one" if n == 1 else "other"


def _millions(n: int) -> PluralCategory:
    """The "many" of the Romance languages: a non-zero whole number of millions."""
    return "many" if n != 0 and n % 1_000_000 == 0 else "other"


def _one_if_1_else_millions(n: int) -> PluralCategory:
    return "one" if n == 1 else _millions(n)


def _one_if_0_or_1_else_millions(n: int) -> PluralCategory:
    return "one" if n in (0, 1) else _millions(n)


PLURAL_RULES: dict[str, PluralRule] = {
    "en": _one_if_1,
    "de": _one_if_1,
    "es": _one_if_1_else_millions,
    "fr": _one_if_0_or_1_else_millions,  # i = 0,1
    "pt": _one_if_0_or_1_else_millions,  # i = 0..1
}
"""Each language's rule, keyed by language subtag: a rule is the language's, whatever its region."""


def plural_category(lang: str, n: int) -> PluralCategory:
    """The category of `n` in `lang`, a language subtag or a whole BCP 47 tag ("pt-BR" is Portuguese).
    A language without a rule here gets English's, the commonest: "one" for 1, else "other"."""
    rule = PLURAL_RULES.get(lang.split("-", 1)[0].lower(), _one_if_1)
    return rule(abs(n))
