"""Who counts as an inactive volunteer: one definition for the overview and the roster.

A volunteer of 30 days' standing with no check-in in the last 30 days is inactive; someone
who joined last week is not yet, whatever they have recorded.
"""

from __future__ import annotations

import datetime as dt

INACTIVE_AFTER = dt.timedelta(days=30)


def is_inactive(
    *, joined_at: dt.datetime, last_check_in: dt.datetime | None, now: dt.datetime
) -> bool:
    since = now - INACTIVE_AFTER
    if joined_at > since:
        return False
    return last_check_in is None or last_check_in < since
