"""Workbooks (.xlsx) for coordinators: the weekly roster and the monthly care record.

Called by `domain.wording.notices.Notices` inside the recipient's language, so headers and sheet
names come from the catalogues like every other text.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Sequence

from babel.dates import format_skeleton
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from domain.care.checkins import VisitQuestion
from domain.care.sample import Figures
from domain.language import gettext as _
from domain.models import Activity
from domain.reports.care_record import RecordRow, SiteRecord, SiteSummary
from domain.reports.recognition import VolunteerYear
from domain.reports.rosters import ScopeRoster
from domain.schedule.calendar import Month
from domain.wording.labels import (
    ACTIVITY,
    CONCERN,
    SEX,
    activities,
    day,
    join,
    labelled,
    month_name,
)
from domain.wording.texts import VISIT_ANSWERS, VISIT_QUESTIONS

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
        [12, 10, 18, 30, 30, 22, 12, 9, 9],
    )
    _print_setup(people, 1, landscape=True, one_page=False)
    header = people.oddHeader
    assert header is not None  # openpyxl makes every sheet's header
    header.center.text = f"{roster.scope_name} {people.title}"
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
                join(labelled(o.child_name, activities(o.activities)) for o in v.owed),
                join(
                    f"{m.child_name} {CONCERN[m.kind]} {day(m.due_day or m.due_at.date(), locale)}"
                    for m in v.must_visits
                ),
                join(day(d, locale) for d in v.duty_days),
                yes if v.inactive else "",
                yes if v.unreachable else "",
            ]
        )
    for line in people.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = _WRAP
    _fit_rows(people, 2, people.max_row)  # or a printed roster cuts what is still due

    completion = workbook.create_sheet()
    _sheet(
        completion,
        _("Completion {month}").format(month=str(roster.week.month)),
        [_("Site"), _("Items required"), _("Items done"), _("Done")],
        [20, 14, 14, 10],
    )
    for bar in roster.completion:
        completion.append([bar.name, bar.required, bar.done, _nothing_to_count(bar.share)])
        completion.cell(row=completion.max_row, column=4).number_format = "0%"
    return _bytes(workbook)


def _nothing_to_count(share: float | None) -> float | str:
    return _("nothing to count") if share is None else share


# The record's activities in the order a township's form lists them (DOMAIN.md); any
# other activity due or done that month follows.
RECORD_ACTIVITIES = (
    Activity.talk,
    Activity.homework_check,
    Activity.tutoring,
    Activity.home_visit,
    Activity.family_meal,
    Activity.family_call,
)
_THIN = Side(style="thin", color="FF000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
# 宋体 is the font of Chinese office forms; a computer without it substitutes its own.
_FONT_NAME = "宋体"
_TITLE_FONT = Font(name=_FONT_NAME, bold=True, size=16)
_BODY_FONT = Font(name=_FONT_NAME, size=10)
_BOLD_FONT = Font(name=_FONT_NAME, size=10, bold=True)
_LINE_HEIGHT = 14.5  # points per line of 10-point text
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_TEXT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=False)


def _add_record_styles(workbook: Workbook) -> None:
    """The four looks of a record's cell, as named styles of the workbook."""
    for text, alignment in (("text", _TEXT), ("centre", _CENTRE)):
        for missing, fill in (("", None), ("_missing", MISSING_FILL)):
            style = NamedStyle(name=f"record_{text}{missing}", font=_BODY_FONT, border=_BORDER)
            style.alignment = alignment
            if fill is not None:
                style.fill = fill
            workbook.add_named_style(style)


def _print_setup(sheet: Worksheet, header_row: int, *, landscape: bool, one_page: bool) -> None:
    """A4, one page wide (and tall when `one_page`), the header row on every page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 1 if one_page else 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5


def _width(text: str) -> int:
    """Columns a line takes: a Chinese character is two, like in Excel's width unit."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit_rows(sheet: Worksheet, first: int, last: int) -> None:
    """Row heights from the wrapped lines: spreadsheet programs do not measure rows a file
    brings, and a short row would print its lines on top of each other."""
    widths = {
        column: (sheet.column_dimensions[get_column_letter(column)].width or 9)
        for column in range(1, sheet.max_column + 1)
    }
    for number in range(first, last + 1):
        lines = 1
        for cell in sheet[number]:
            if cell.value is None or not isinstance(cell.column, int):
                continue
            room = max(int(widths[cell.column]) - 1, 1)
            wrapped = sum(max(1, -(-_width(line) // room)) for line in str(cell.value).split("\n"))
            lines = max(lines, wrapped)
        sheet.row_dimensions[number].height = lines * _LINE_HEIGHT + 6


def _heading(sheet: Worksheet, columns: int, title: str, details: str) -> None:
    """Rows 1-2: the title centred over the table, then who and when."""
    sheet.cell(row=1, column=1, value=title).font = _TITLE_FONT
    sheet.cell(row=1, column=1).alignment = _CENTRE
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
    sheet.row_dimensions[1].height = 30
    sheet.cell(row=2, column=1, value=details).alignment = _LEFT
    sheet.cell(row=2, column=1).font = _BODY_FONT
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=columns)
    sheet.row_dimensions[2].height = 20


def _table(
    sheet: Worksheet, header_row: int, headers: Sequence[str], widths: Sequence[int]
) -> None:
    for column, (label, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = sheet.cell(row=header_row, column=column, value=label)
        cell.font = _BOLD_FONT
        cell.alignment = _CENTRE
        cell.border = _BORDER
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = f"A{header_row + 1}"


def _answers(answers: dict[str, str]) -> list[str]:
    """Each home-visit answer as question and answer in the reader's words, never a key."""
    lines = []
    order = list(VisitQuestion.__members__)
    for key, answer in sorted(
        answers.items(),
        key=lambda a: (a[0] not in order, order.index(a[0]) if a[0] in order else 0),
    ):
        shown = str(VISIT_ANSWERS[answer]) if answer in VISIT_ANSWERS else answer
        if key in VisitQuestion.__members__:
            lines.append(f"{VISIT_QUESTIONS[VisitQuestion(key)]}{shown}")
        else:
            lines.append(shown)
    return lines


def _found(row: RecordRow, locale: str) -> str:
    """家访情况 / 发现的问题: the answers, the visitor's notes, the concerns raised."""
    answers = "；".join(_answers(row.visit_answers))
    lines = [answers] if answers else []
    lines += [f"{day(on, locale)}：{note}" for on, note in row.notes]
    lines += [
        _("{day}: {concern}").format(day=day(c.raised_on, locale), concern=CONCERN[c.kind])
        for c in row.concerns
    ]
    return "\n".join(lines)


def _measures(row: RecordRow, locale: str) -> str:
    """采取的措施: what came of each concern."""
    return "\n".join(
        _("{concern} ({outcome})").format(
            concern=CONCERN[c.kind],
            outcome=_("visited {day}").format(day=day(c.closed_on, locale))
            if c.closed_on
            else _("open"),
        )
        for c in row.concerns
    )


def _remarks(row: RecordRow) -> str:
    """备注: what is missing this month, and the photos the visits brought."""
    lines = []
    if row.volunteer_name is None:
        lines.append(_("Missing: a surrogate parent"))
    if row.missing:
        lines.append(_("Missing: {activities}").format(activities=activities(row.missing)))
    if row.photos:
        lines.append(_("{count} photos").format(count=row.photos))
    return "\n".join(lines)


def care_record_workbook(
    record: SiteRecord, rows: Sequence[RecordRow], locale: str, filled_by: str
) -> bytes:
    """关爱留守儿童记录表 as a township files it: one row per key child and surrogate parent,
    each activity with its dates, what the visits found and what was done; a missing entry
    is filled red; A4 landscape, one page wide, signature lines at the foot."""
    workbook = Workbook()
    _add_record_styles(workbook)
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Care record")[:31]
    shown = [
        *RECORD_ACTIVITIES,
        *sorted(
            {a for row in rows for a in (*row.required, *row.done)} - set(RECORD_ACTIVITIES),
            key=list(Activity).index,
        ),
    ]
    headers = [
        _("No."),
        _("Name"),
        _("Sex"),
        _("Grade and class"),
        _("Surrogate parent"),
        *(str(ACTIVITY[a]) for a in shown),
        _("Home visit / problems found"),
        _("Measures taken"),
        _("Remarks"),
    ]
    widths = [5, 8, 5, 11, 10, *(10 for _ in shown), 44, 24, 20]
    month = month_name(record.month, locale)
    _heading(
        sheet,
        len(headers),
        _("{site} care record of left-behind children, {month}").format(
            site=record.site_name, month=month
        ),
        _("School: {site}    Township: {township}    Filled in by: {who}    Date: {date}").format(
            site=record.site_name,
            township=record.township_name or "",
            who=filled_by,
            date=format_skeleton("yMMMd", record.made_on, locale=locale) if record.made_on else "",
        ),
    )
    header_row = 3
    _table(sheet, header_row, headers, widths)
    for number, row in enumerate(rows, start=1):
        cells: list[object] = [
            number,
            row.child_name,
            str(SEX[row.sex]) if row.sex else "",
            " ".join(p for p in (row.grade, row.class_name) if p),
            row.volunteer_name or _("(no surrogate parent)"),
        ]
        # a key child without a surrogate parent is incomplete: the missing one is marked
        missing_columns = [] if row.volunteer_name else [len(cells), len(cells) + len(shown) + 3]
        for column, activity in enumerate(shown, start=len(cells) + 1):
            dates = row.done.get(activity, ())
            cells.append("\n".join(day(d, locale) for d in dates))
            if activity in row.required and len(dates) < row.required[activity]:
                missing_columns.append(column)
        cells += [_found(row, locale), _measures(row, locale), _remarks(row)]
        if row.missing:
            missing_columns.append(len(cells))
        sheet.append([c if c != "" else None for c in cells])
        at = sheet.max_row
        for column in range(1, len(cells) + 1):
            # one named style per cell: setting border, font and alignment one by one
            # made openpyxl spend most of a district's run hashing styles
            text = "text" if column > len(shown) + 5 else "centre"
            missing = "_missing" if column in missing_columns else ""
            sheet.cell(row=at, column=column).style = f"record_{text}{missing}"
    _fit_rows(sheet, header_row, sheet.max_row)
    if record.sample.drawn:
        line = sheet.max_row + 2
        cell = sheet.cell(
            row=line, column=1, value=_checked_line(record.sample, record.month, locale)
        )
        cell.alignment, cell.font = _LEFT, _BODY_FONT
    foot = sheet.max_row + 2
    middle = len(headers) // 2 + 1
    for line, column, label in (
        (foot, 1, _("Head of school (signature):")),
        (foot, middle, _("Checked by (signature):")),
        (foot + 1, middle, _("(stamp)")),
    ):
        cell = sheet.cell(row=line, column=column, value=label)
        cell.alignment, cell.font = _LEFT, _BODY_FONT
    sheet.row_dimensions[foot].height = 30
    _print_setup(sheet, header_row, landscape=True, one_page=False)
    return _bytes(workbook)


def _checked_line(checked: Figures, month: Month, locale: str) -> str:
    """回访抽查 of the month before's home visits, as a line of the record."""
    return _(
        "Phone checks of {month}'s home visits: {drawn} drawn, {called} called, {confirmed} "
        "confirmed ({rate}), {unreachable} not reached, {not_happened} did not happen"
    ).format(
        month=month_name(month.previous(), locale),
        drawn=checked.drawn,
        called=checked.called,
        confirmed=checked.confirmed,
        rate=_rate(checked),
        unreachable=checked.unreachable,
        not_happened=checked.not_happened,
    )


def _rate(checked: Figures) -> str:
    percent = checked.confirmed_percent
    return "—" if percent is None else f"{percent}%"


def township_summary_workbook(
    township: str, month: Month, made_on: dt.date | None, sites: Sequence[SiteSummary], locale: str
) -> bytes:
    """The one-page summary of a township's schools: one row per site, a total below."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Summary")[:31]
    headers = [
        _("Site"),
        _("Key children"),
        _("With a surrogate parent"),
        _("Records complete"),
        _("Records with gaps"),
        _("Concerns raised"),
        _("Concerns still open"),
        _("Visits checked by phone"),
        _("Confirmed"),
    ]
    _heading(
        sheet,
        len(headers),
        _("{township} care records of left-behind children, {month}").format(
            township=township, month=month_name(month, locale)
        ),
        _("Township: {township}    Date: {date}").format(
            township=township,
            date=format_skeleton("yMMMd", made_on, locale=locale) if made_on else "",
        ),
    )
    header_row = 3
    _table(sheet, header_row, headers, [24, 10, 12, 12, 12, 10, 10, 10, 10])
    fields = ("key_children", "with_surrogate", "complete", "incomplete", "concerns")
    for site in sites:
        sheet.append(
            [
                site.site_name,
                *(getattr(site, f) for f in fields),
                site.open_concerns,
                site.sample.called,
                _rate(site.sample),
            ]
        )
        if site.incomplete or site.key_children > site.with_surrogate:
            for column in (3, 5):
                sheet.cell(row=sheet.max_row, column=column).fill = MISSING_FILL
    sheet.append(
        [
            _("Total"),
            *(sum(getattr(s, f) for s in sites) for f in fields),
            sum(s.open_concerns for s in sites),
            sum(s.sample.called for s in sites),
            _rate(
                Figures(
                    confirmed=sum(s.sample.confirmed for s in sites),
                    unreachable=sum(s.sample.unreachable for s in sites),
                    not_happened=sum(s.sample.not_happened for s in sites),
                )
            ),
        ]
    )
    for line in sheet.iter_rows(min_row=header_row + 1, max_row=sheet.max_row):
        for position, cell in enumerate(line):
            cell.border = _BORDER
            cell.font = _BODY_FONT
            cell.alignment = _CENTRE if position else _TEXT
    for cell in sheet[sheet.max_row]:
        cell.font = _BOLD_FONT
    _fit_rows(sheet, header_row, sheet.max_row)
    _print_setup(sheet, header_row, landscape=False, one_page=True)
    return _bytes(workbook)


def commendation_workbook(
    townships: Sequence[tuple[str, Sequence[VolunteerYear]]],
    first: Month,
    last: Month,
    made_on: dt.date,
    locale: str,
) -> bytes:
    """表彰名单: one sheet per township, its volunteers with the best school year and their
    figures, A4 portrait on one page, with the lines to sign and stamp."""
    workbook = Workbook()
    assert workbook.active is not None
    workbook.remove(workbook.active)
    headers = [
        _("No."),
        _("Name"),
        _("School / village"),
        _("Months as volunteer of the month"),
        _("Home visits"),
        _("Check-ins made"),
        _("Children cared for"),
        _("Must-visits made"),
        _("Visits confirmed by phone"),
    ]
    for township, volunteers in townships:
        sheet = workbook.create_sheet(township[:31])
        _heading(
            sheet,
            len(headers),
            _("{township}: commendation list of outstanding volunteers, {first} to {last}").format(
                township=township,
                first=month_name(first, locale),
                last=month_name(last, locale),
            ),
            _("Township: {township}    Date: {date}").format(
                township=township, date=format_skeleton("yMMMd", made_on, locale=locale)
            ),
        )
        header_row = 3
        _table(sheet, header_row, headers, [6, 10, 16, 10, 10, 10, 10, 10, 10])
        for number, v in enumerate(volunteers, start=1):
            sheet.append(
                [
                    number,
                    v.name,
                    v.site_name,
                    v.months_of_the_month,
                    v.home_visits,
                    v.checkins,
                    v.children,
                    v.concerns_closed,
                    v.confirmed_by_phone,
                ]
            )
        for line in sheet.iter_rows(min_row=header_row, max_row=sheet.max_row):
            for position, cell in enumerate(line):
                cell.border = _BORDER
                cell.font = _BOLD_FONT if cell.row == header_row else _BODY_FONT
                cell.alignment = _TEXT if position in (1, 2) and cell.row > header_row else _CENTRE
        _fit_rows(sheet, header_row, sheet.max_row)
        foot = sheet.max_row + 2
        for column, label in ((1, _("Prepared by (signature):")), (6, _("(stamp)"))):
            cell = sheet.cell(row=foot, column=column, value=label)
            cell.alignment, cell.font = _LEFT, _BODY_FONT
        sheet.row_dimensions[foot].height = 30
        _print_setup(sheet, header_row, landscape=False, one_page=True)
    return _bytes(workbook)
