"""What no name, label or free text may contain (SPEC §2), pydantic-free.

The validated value types (:mod:`ledger.values`), the importers and the read
commands' name options all ask here, so what one refuses the others refuse.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Control characters (Unicode category Cc): never in a name, label or id."""
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline: never in free text either.
The importers check with these too, so they refuse what the commands refuse."""
SURROGATE = re.compile("[\ud800-\udfff]")
"""Lone surrogates: how Python carries undecodable bytes of argv."""
REFUSED_WHY = "must not contain control characters or invalid Unicode"


def name_problem(value: str) -> str | None:
    """Why ``value`` (already trimmed) can never be a person id or label, or None."""
    if CONTROL.search(value) or SURROGATE.search(value):
        return REFUSED_WHY
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` can never be free text (a note, a reason), or None."""
    if TEXT_CONTROL.search(value) or SURROGATE.search(value):
        return REFUSED_WHY
    return None
