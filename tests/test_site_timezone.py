"""A handler gets the timezone of the person's site from one dependency, `tz`: the
identity middleware asks `domain.people.identity.timezone_of` once per update, and the handlers
tell days and months in what it answers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from domain.people import identity
from domain.people.identity import Identity
from tests.conftest import SHANGHAI, RunningBot
from tests.volunteering import VOLUNTEER, seed_school

UTC = ZoneInfo("UTC")


def test_every_site_keeps_the_deployments_timezone_today() -> None:
    volunteer = Identity(person_id=1, name="志愿者", language=None, volunteer_ids=(7,))
    assert identity.timezone_of(volunteer, default=SHANGHAI) is SHANGHAI
    assert identity.timezone_of(None, default=SHANGHAI) is SHANGHAI


async def test_the_month_a_volunteer_reads_is_their_sites(
    running_bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    # 1 December 02:00 in Beijing is still 30 November in UTC
    running_bot.clock.move(dt.datetime(2026, 12, 1, 2, tzinfo=SHANGHAI) - running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("👧 我的孩子")
    assert "2026年12月" in ((await user.next_message()).text or "")

    asked: list[Identity | None] = []

    def site_in_utc(me: Identity | None, *, default: ZoneInfo) -> ZoneInfo:
        asked.append(me)
        return UTC

    monkeypatch.setattr(identity, "timezone_of", site_in_utc)
    user.send_text("👧 我的孩子")
    assert "2026年11月" in ((await user.next_message()).text or "")
    assert len(asked) == 1  # once per update
    assert asked[0] is not None and asked[0].volunteer_ids  # about the volunteer speaking
