"""People named in a command that the ledger does not know, and who they
probably meant (SPEC §7.1: "did you mean 'Anna Snelling'?").

Person ids compare exactly (SPEC §2), so ``anna snelling`` is not ``Anna
Snelling``; a read command that names nobody the ledger knows says so and
offers the closest known names instead of printing an empty answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_SUGGESTIONS = 3


def closest(name: str, known: Iterable[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Known names close to ``name``, best first: the same name in another case
    (then nothing else), else names with a word starting with it (``Ann`` ->
    ``Anna Snelling``), then spelling neighbours (difflib, case-insensitive)."""
    query = name.strip().casefold()
    names = sorted(set(known))
    if not query or not names:
        return []
    folded = {n: n.casefold() for n in names}
    out: list[str] = [n for n in names if folded[n] == query]
    if out:
        return out[:limit]  # only the case differs: that is who was meant
    if len(query) >= 2:
        out += [
            n
            for n in names
            if n not in out
            and (folded[n].startswith(query) or any(w.startswith(query) for w in folded[n].split()))
        ]
    by_folded: dict[str, list[str]] = {}
    for n in names:
        by_folded.setdefault(folded[n], []).append(n)
    for match in difflib.get_close_matches(query, list(by_folded), n=limit, cutoff=0.6):
        out += [n for n in by_folded[match] if n not in out]
    return out[:limit]


def unknown_person_message(role: str, name: str, known: Iterable[str]) -> str:
    """``no rep named 'Ann'; did you mean 'Anna Snelling'?`` (one line)."""
    text = f"no {role} named {name!r} in the ledger"
    hints = closest(name, known)
    if not hints:
        return text
    quoted = [repr(h) for h in hints]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"{text}; did you mean {listed}?"
