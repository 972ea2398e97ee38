"""The verification sample's confirmed rate in the monthly care record and the township's
summary: the record of November says what the calls about October's visits found."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.wording.notices import Notices
from domain.care import sample
from domain.models import SampleCheck, SampleOutcome
from domain.people.identity import Identity, Scope
from domain.reports import care_record
from domain.schedule.calendar import Month
from tests.conftest import SHANGHAI
from tests.factories import make_checkin
from tests.workers_support import make_programme, outbox_to


async def test_the_record_and_the_summary_give_the_confirmed_rate(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.pairing.started_at = dt.datetime(2026, 9, 1, tzinfo=SHANGHAI)
    for day in (3, 10, 17, 24):
        await make_checkin(
            session, p.pairing, occurred_at=dt.datetime(2026, 10, day, 16, tzinfo=SHANGHAI)
        )
    p.school.sample_percent = 75.0  # this site checks three visits in four
    drawn = await sample.draw_month(
        session,
        month=Month(2026, 10),
        tz=SHANGHAI,
        now=dt.datetime(2026, 11, 1, 6, tzinfo=SHANGHAI),
        seed=2026,
    )
    assert (drawn.visits, drawn.checks) == (4, 3)
    head = Identity(
        person_id=p.school_head.id,
        name="王校长",
        language=None,
        scopes=(Scope(p.school.id, p.school.code, p.school.name, p.school.path),),
    )
    checks = list(await session.scalars(select(SampleCheck.id).order_by(SampleCheck.id)))
    for check_id, outcome in zip(
        checks, (SampleOutcome.confirmed, SampleOutcome.unreachable), strict=False
    ):
        await sample.record(
            session, check_id, outcome, head, at=dt.datetime(2026, 11, 5, tzinfo=SHANGHAI)
        )

    await care_record.send_care_records(
        session,
        now=dt.datetime(2026, 11, 24, 10, tzinfo=SHANGHAI),
        tz=SHANGHAI,
        text=Notices(),
        media_dir=tmp_path,
    )
    _text, document = await outbox_to(session, p.school_head)
    sheet = load_workbook(tmp_path / document.payload["path"]).active
    assert sheet is not None
    lines = [row[0] for row in sheet.iter_rows(values_only=True) if row[0]]
    assert (
        "回访抽查（2026年10月的家访）：抽查 3 次，已回访 2 次，确认 1 次（50%），"
        "联系不上 1 次，没有发生 0 次" in lines
    )
    _summary_text, summary = await outbox_to(session, p.township_head)
    summary_sheet = load_workbook(tmp_path / summary.payload["path"]).active
    assert summary_sheet is not None
    [site, total] = list(summary_sheet.iter_rows(min_row=4, values_only=True))
    assert site[0] == "中和小学" and site[-2:] == (2, "50%")
    assert total[-2:] == (2, "50%")
