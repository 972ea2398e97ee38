"""What the core asks of the parts around it: of the queue, to fetch a photo later; of a
chat front, a sender that drains its channel's outbox rows (rendering their content its
own way) and a downloader of the files people sent.

The core owns these interfaces; the Telegram front (`bot/`) and the workers implement
and use them, and `guanai/` hands one to the other. Light to import: the bot loads it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from domain.archive.school_year import SchoolYearText
from domain.clock import Clock
from domain.reports.care_record import RecordText
from domain.reports.rosters import RosterText
from domain.schedule.ladder import EscalationText
from domain.schedule.reminders import ReminderText

if TYPE_CHECKING:
    from domain.care.photos import Downloader  # the imaging libraries: never in the bot's process


class PhotoQueue(Protocol):
    async def store_later(self, photo_id: int) -> None:
        """Queue the download of a pending `Photo`; a second call for one photo is a no-op."""
        ...


class LadderQueue(Protocol):
    async def climb_now(self, escalation_id: int) -> None:
        """Run the escalation ladder now, for an emergency just reported; once per one."""
        ...


@dataclasses.dataclass
class DrainReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    rate_limited: int = 0


class OutboxSender(Protocol):
    async def drain(self, clock: Clock) -> DrainReport:
        """Send what is due, under the channel's limits; a second drain at once returns."""
        ...


class NoticeText(ReminderText, EscalationText, RosterText, RecordText, SchoolYearText, Protocol):
    """Every notice the jobs queue: reminders, escalations, rosters, care records, the
    new school year's."""


class Front(Protocol):
    """A chat front as the jobs see it; what needs a token is made on first use."""

    @property
    def sender(self) -> OutboxSender: ...

    @property
    def downloader(self) -> Downloader: ...

    async def close(self) -> None: ...
