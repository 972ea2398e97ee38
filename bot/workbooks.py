"""Workbooks (.xlsx) for coordinators: the weekly roster and the monthly care record.

Called by `bot.notices.Notices` inside the recipient's language, so headers and sheet
names come from the catalogues like every other text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from aiogram.utils.i18n import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from bot.labels import ACTIVITY, CONCERN, activities, day, join
from domain.care_record import RecordRow, SiteSummary
from domain.rosters import ScopeRoster

# The fill of a missing entry in the care record: a soft red a printer still shows.
MISSING_FILL = PatternFill(fill_type="solid", start_color="FFF4CCCC", end_color="FFF4CCCC")
_HEADER_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


def _sheet(sheet: Worksheet, title: str, headers: Sequence[str], widths: Sequence[int]) -> None:
    sheet.title = title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = _HEADER_FONT
    sheet.freeze_panes = "A2"
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def roster_workbook(roster: ScopeRoster, locale: str) -> bytes:
    workbook = Workbook()
    people = workbook.active
    assert people is not None
    _sheet(
        people,
        _("Roster, week of {monday}").format(monday=day(roster.week.monday, locale)),
        [
            _("School / village"),
            _("Volunteer"),
            _("Paired children"),
            _("Done last week"),
            _("Still due this month"),
            _("Must-visits open"),
            _("On duty this week"),
            _("Inactive 30 days"),
            _("Bot cannot reach"),
        ],
        [16, 12, 24, 36, 36, 28, 18, 10, 10],
    )
    yes = _("yes")
    for v in roster.volunteers:
        people.append(
            [
                v.site_name,
                v.name,
                join(v.children),
                join(
                    f"{d.child_name} {ACTIVITY[d.activity]} {day(d.day, locale)}"
                    for d in v.last_week
                ),
                join(f"{o.child_name}: {activities(o.activities)}" for o in v.owed),
                join(
                    f"{m.child_name} {CONCERN[m.kind]} {day(m.due_day or m.due_at.date(), locale)}"
                    for m in v.must_visits
                ),
                join(day(d, locale) for d in v.duty_days),
                yes if v.inactive else "",
                yes if v.unreachable else "",
            ]
        )

    completion = workbook.create_sheet()
    _sheet(
        completion,
        _("Completion {month}").format(month=str(roster.week.month)),
        [_("Site"), _("Items required"), _("Items done"), _("Done")],
        [20, 14, 14, 10],
    )
    for bar in roster.completion:
        completion.append([bar.name, bar.required, bar.done, bar.share])
        completion.cell(row=completion.max_row, column=4).number_format = "0%"
    return _bytes(workbook)


def care_record_workbook(title: str, rows: Sequence[RecordRow], locale: str) -> bytes:
    """One row per key child and surrogate parent; a missing entry is filled red."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    record_activities = sorted({a for row in rows for a in row.required}, key=list(ACTIVITY).index)
    _sheet(
        sheet,
        title,
        [
            _("Child"),
            _("Surrogate parent"),
            *(str(ACTIVITY[a]) for a in record_activities),
            _("Home-visit answers"),
            _("Concerns and outcome"),
            _("Missing"),
        ],
        [10, 12, *(14 for _ in record_activities), 40, 30, 30],
    )
    for row in rows:
        cells: list[str] = [row.child_name, row.volunteer_name or ""]
        missing_columns = []
        for column, activity in enumerate(record_activities, start=3):
            dates = row.done.get(activity, ())
            cells.append(join(day(d, locale) for d in dates))
            if activity in row.required and len(dates) < row.required[activity]:
                missing_columns.append(column)
        cells.append(join(f"{q}: {a}" for q, a in row.visit_answers.items()))
        cells.append(
            join(
                _("{concern} ({outcome})").format(
                    concern=CONCERN[c.kind],
                    outcome=_("visited") if c.closed else _("open"),
                )
                for c in row.concerns
            )
        )
        cells.append(activities(row.missing))
        sheet.append(cells)
        for column in missing_columns:
            sheet.cell(row=sheet.max_row, column=column).fill = MISSING_FILL
        if row.missing:
            sheet.cell(row=sheet.max_row, column=len(cells)).fill = MISSING_FILL
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = _WRAP
    return _bytes(workbook)


def township_summary_workbook(title: str, sites: Sequence[SiteSummary]) -> bytes:
    """The one-page summary of a township's schools: one row per site."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    _sheet(
        sheet,
        title,
        [
            _("Site"),
            _("Key children"),
            _("With a surrogate parent"),
            _("Records complete"),
            _("Records with gaps"),
            _("Concerns raised"),
            _("Concerns still open"),
        ],
        [20, 10, 12, 12, 12, 10, 10],
    )
    for site in sites:
        sheet.append(
            [
                site.site_name,
                site.key_children,
                site.with_surrogate,
                site.complete,
                site.incomplete,
                site.concerns,
                site.open_concerns,
            ]
        )
        if site.incomplete or site.key_children > site.with_surrogate:
            for column in (3, 5):
                sheet.cell(row=sheet.max_row, column=column).fill = MISSING_FILL
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 1
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    return _bytes(workbook)
