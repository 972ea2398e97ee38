"""The weekly roster: made once per ISO week, per coordinator and per volunteer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery.messaging import Outgoing, Recipient
from domain.models import Activity, DutyShift, OutboxMessage, Person, Roster
from domain.reports import overview, rosters
from domain.schedule.calendar import Month
from domain.schedule.inactivity import is_inactive
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_pairing, make_site, make_volunteer
from tests.outbox_support import method, shown
from tests.workers_support import NOVEMBER_1, make_programme, outbox_to

MONDAY = dt.datetime(2026, 11, 16, 8, tzinfo=SHANGHAI)
SEPTEMBER_1 = dt.datetime(2026, 9, 1, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def make_rosters(
    session: AsyncSession, now: dt.datetime, notices: Notices, tmp_path: Path
) -> int:
    return await rosters.send_rosters(
        session, now=now, tz=SHANGHAI, text=notices, media_dir=tmp_path
    )


async def test_each_coordinator_gets_message_workbook_and_chart_once_a_week(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await make_checkin(
        session,
        p.pairing,
        occurred_at=dt.datetime(2026, 11, 11, 16, tzinfo=SHANGHAI),
        activities=(Activity.home_visit, Activity.talk),
    )
    session.add(
        DutyShift(site_id=p.school.id, day=dt.date(2026, 11, 18), volunteer_id=p.volunteer.id)
    )
    other_school = await make_site(session, parent=p.township, name="新村小学")
    idle = await make_volunteer(session, other_school, person=None, joined_at=SEPTEMBER_1)
    await make_pairing(
        session, idle, await make_child(session, other_school, name="小刚"), started_at=NOVEMBER_1
    )
    await session.flush()
    idle_person = await session.get_one(Person, idle.person_id)

    queued = await make_rosters(session, MONDAY, notices, tmp_path)

    assert queued == 3 * 3 + 2  # three coordinators × (message, workbook, chart) + two volunteers
    assert await make_rosters(session, MONDAY + dt.timedelta(hours=3), notices, tmp_path) == 0
    assert await session.scalar(select(func.count()).select_from(Roster)) == 3

    text, workbook, chart = await outbox_to(session, p.township_head)
    assert (method(text), method(workbook), method(chart)) == (
        "sendMessage",
        "sendDocument",
        "sendPhoto",
    )
    assert "中和镇" in shown(text)["text"] and "小刚" not in shown(text)["text"]
    assert idle_person.name in shown(text)["text"]  # no record for 30 days
    assert (tmp_path / shown(chart)["path"]).read_bytes().startswith(b"\x89PNG")

    sheet = load_workbook(tmp_path / shown(workbook)["path"]).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("学校/村", "志愿者", "结对孩子", "上周做了")
    by_name = {row[1]: row for row in rows[1:]}
    volunteer_person = await session.get_one(Person, p.volunteer.person_id)
    mine = by_name[volunteer_person.name]
    assert mine[0] == "中和小学" and mine[2] == "小明"
    assert "家访" in mine[3] and "11月11日" in mine[3]
    assert "作业辅导" in mine[4]  # still due this month
    assert mine[6] == "11月18日"  # on duty on Wednesday
    assert mine[7] is None  # active
    assert by_name[idle_person.name][7] == "是"  # inactive for 30 days
    completion = load_workbook(tmp_path / shown(workbook)["path"]).worksheets[1]
    shares = {row[0]: row for row in completion.iter_rows(min_row=2, values_only=True)}
    assert set(shares) == {"中和小学", "新村小学"}  # the township's chart is per site
    assert shares["新村小学"][2] == 0 and shares["中和小学"][2] == 2

    [week] = await outbox_to(session, volunteer_person)
    assert "小明" in shown(week)["text"] and "11月18日" in shown(week)["text"]


async def test_the_district_chart_is_per_township(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    await make_rosters(session, MONDAY, notices, tmp_path)

    workbook = (await outbox_to(session, p.district_head))[1]
    completion = load_workbook(tmp_path / shown(workbook)["path"]).worksheets[1]
    assert [row[0] for row in completion.iter_rows(min_row=2, values_only=True)] == ["中和镇"]


async def test_a_roster_asked_for_at_night_waits_for_the_morning(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    await make_programme(session)

    await make_rosters(session, MONDAY.replace(hour=23), notices, tmp_path)

    not_before = set(await session.scalars(select(OutboxMessage.not_before)))
    assert not_before == {dt.datetime(2026, 11, 17, 8, tzinfo=SHANGHAI)}


@pytest.mark.parametrize(
    ("joined_days_ago", "last_check_in_days_ago", "inactive"),
    [
        (10, None, False),  # joined last week: not yet inactive
        (60, None, True),
        (60, 40, True),
        (60, 29, False),
        (30, None, True),  # exactly 30 days' standing
    ],
)
def test_one_definition_of_an_inactive_volunteer(
    joined_days_ago: int, last_check_in_days_ago: int | None, inactive: bool
) -> None:
    days = dt.timedelta(days=1)
    last = None if last_check_in_days_ago is None else MONDAY - last_check_in_days_ago * days
    assert (
        is_inactive(joined_at=MONDAY - joined_days_ago * days, last_check_in=last, now=MONDAY)
        is inactive
    )


async def test_the_roster_and_the_overview_count_the_same_inactive_volunteers(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)  # its volunteer joined today: new, not inactive
    newcomer = await make_volunteer(session, p.school, joined_at=MONDAY - dt.timedelta(days=5))
    idle = await make_volunteer(session, p.school, joined_at=SEPTEMBER_1)
    ended = await make_volunteer(session, p.school, joined_at=SEPTEMBER_1)
    pairing = await make_pairing(
        session, ended, await make_child(session, p.school), started_at=SEPTEMBER_1
    )
    await make_checkin(session, pairing, occurred_at=MONDAY - dt.timedelta(days=3))
    pairing.ended_at = MONDAY - dt.timedelta(days=1)  # a visit on a pairing since ended counts
    await session.flush()

    data = await rosters.compute_week(session, now=MONDAY, tz=SHANGHAI, scope_path=p.school.path)
    figures = await overview.overview(
        session, scope_path=p.school.path, month=Month(2026, 11), tz=SHANGHAI, now=MONDAY
    )

    in_roster = {v.volunteer_id for v in data.volunteers if v.inactive}
    assert in_roster == {idle.id}
    assert figures.inactive_volunteers == len(in_roster)
    assert newcomer.id not in in_roster and ended.id not in in_roster


async def test_a_site_with_nothing_due_is_not_a_green_hundred_percent(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    empty = await make_site(session, parent=p.township, name="空小学")

    await make_rosters(session, MONDAY, notices, tmp_path)

    _text, workbook, _chart = await outbox_to(session, p.township_head)
    completion = load_workbook(tmp_path / shown(workbook)["path"]).worksheets[1]
    shares = {row[0]: row[3] for row in completion.iter_rows(min_row=2, values_only=True)}
    assert shares[empty.name] == "无可统计"
    assert shares["中和小学"] == 0  # nothing done yet, and something is due
    figures = await overview.overview(
        session, scope_path=empty.path, month=Month(2026, 11), tz=SHANGHAI, now=MONDAY
    )
    assert figures.six_ones_percent is None
    assert rosters.Completion("空小学", required=0, done=0).share is None


async def test_the_roster_prints_landscape_one_page_wide_with_its_header_repeated(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    await make_rosters(session, MONDAY, notices, tmp_path)

    workbook = (await outbox_to(session, p.school_head))[1]
    sheet = load_workbook(tmp_path / shown(workbook)["path"]).worksheets[0]
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == "$1:$1"


class _BrokenFor:
    """Notices that cannot draw one region's roster, as a missing font or a bad chart would."""

    def __init__(self, notices: Notices, region_name: str) -> None:
        self.notices = notices
        self.region_name = region_name

    def roster(self, to: Recipient, roster: rosters.ScopeRoster) -> list[Outgoing]:
        if roster.scope_name == self.region_name:
            raise RuntimeError("the chart could not be drawn")
        return self.notices.roster(to, roster)

    def volunteer_week(
        self, to: Recipient, week: rosters.Week, volunteer: rosters.VolunteerWeek
    ) -> Outgoing:
        return self.notices.volunteer_week(to, week, volunteer)


async def test_one_roster_that_cannot_be_drawn_costs_nobody_else_theirs(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    broken = _BrokenFor(notices, "中和镇")

    queued = await rosters.send_rosters(
        session, now=MONDAY, tz=SHANGHAI, text=broken, media_dir=tmp_path
    )

    assert queued == 2 * 3 + 1  # the school's and the district's, and the volunteer's week
    assert await outbox_to(session, p.township_head) == []
    # not made, so the next run makes it
    assert await make_rosters(session, MONDAY + dt.timedelta(hours=1), notices, tmp_path) == 3


@pytest.mark.parametrize(("month", "letter_owed"), [(11, False), (2, True)])
async def test_the_semester_letter_is_owed_in_the_semesters_last_month_only(
    session: AsyncSession, month: int, letter_owed: bool
) -> None:
    p = await make_programme(session)
    p.pairing.started_at = SEPTEMBER_1
    await session.flush()
    monday = dt.datetime(2026, 11, 16, 8, tzinfo=SHANGHAI)
    if month == 2:
        monday = dt.datetime(2027, 2, 15, 8, tzinfo=SHANGHAI)

    data = await rosters.compute_week(session, now=monday, tz=SHANGHAI, scope_path=p.school.path)

    [volunteer] = data.volunteers
    owed = {activity for line in volunteer.owed for activity in line.activities}
    assert Activity.home_visit in owed
    assert (Activity.parent_letter in owed) is letter_owed


async def test_a_childs_birthday_is_in_their_volunteers_week(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.child.birth_date = dt.date(2015, 11, 19)  # Thursday of the week from 16 November
    other = await make_child(session, p.school, name="小红", birth_date=dt.date(2016, 11, 26))
    await make_pairing(session, p.volunteer, other, started_at=NOVEMBER_1)
    await session.flush()

    await make_rosters(session, MONDAY, notices, tmp_path)

    [week] = await outbox_to(session, await session.get_one(Person, p.volunteer.person_id))
    assert "🎂 小明周四过生日" in shown(week)["text"]
    assert "小红周" not in shown(week)["text"]  # hers is the week after


@pytest.mark.parametrize(
    ("born", "monday", "day"),
    [
        (dt.date(2015, 11, 19), dt.date(2026, 11, 16), dt.date(2026, 11, 19)),
        (dt.date(2015, 11, 23), dt.date(2026, 11, 16), None),
        (dt.date(2016, 1, 2), dt.date(2026, 12, 28), dt.date(2027, 1, 2)),  # across the new year
        (dt.date(2016, 2, 29), dt.date(2027, 2, 22), dt.date(2027, 2, 28)),
        (None, dt.date(2026, 11, 16), None),
    ],
)
def test_which_day_of_the_week_is_a_birthday(
    born: dt.date | None, monday: dt.date, day: dt.date | None
) -> None:
    assert rosters.birthday_in_week(born, monday) == day
