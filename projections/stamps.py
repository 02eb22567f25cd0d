"""The read model's timestamps: every ``recorded_at`` as fixed-width UTC text.

Its own module because every writer of rows needs it (the Python applier in
:mod:`projections.catchup`, the in-SQLite pages of :mod:`projections.sqlpages`
as a SQL function, the people rows of :mod:`projections.people`), and none of
them should import another for it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def normalize_timestamp(text: str) -> str:
    """A stored timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), so text order is time order."""
    if len(text) == 27 and text[-1] == "Z":
        return text
    if len(text) == 20 and text[-1] == "Z":
        return text[:19] + ".000000Z"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
