"""How many examples the property and fuzz tests try.

The complete run (``make test-all``, what CI runs) gives each its full budget;
the everyday fast run (``make test``, which deselects ``slow``) gives each a
tenth of it, so every property and fuzz test still runs there, only shorter.
``COMMITMENTS_FUZZ_EXAMPLES`` pins the budget of the fuzz tests in both runs.
"""

from __future__ import annotations

import os

QUICK = False  # set by tests/conftest.py when the run deselects the slow tests


def examples(full: int, *, fuzz: bool = False) -> int:
    """``full`` examples, or the pinned fuzz budget, or a tenth in the quick run."""
    pinned = os.environ.get("COMMITMENTS_FUZZ_EXAMPLES") if fuzz else None
    if pinned:
        return int(pinned)
    return max(full // 10, 5) if QUICK else full
