"""The written report on a drop-out (控辍保学情况报告), as a Word document ready to print,
sign and stamp: to the county education bureau and the township government, produced from
what was recorded — the child, the family, the day it was registered, every persuasion
visit (劝返) with its date, who went and the result."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.text.run import Run

from domain.care.emergencies import ReportFacts
from domain.language import gettext as _
from domain.wording import formatting
from domain.wording.labels import SEX

FONT = "SimSun"  # 宋体; LibreOffice and WPS fall back to any CJK serif font
TITLE_FONT = "SimHei"  # 黑体


def _font(run: Run, name: str = FONT, size: float = 14, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    properties = run._element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = properties.makeelement(qn("w:rFonts"), {})
        properties.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _date(value: dt.date) -> str:
    return _("{year}-{month}-{day}").format(year=value.year, month=value.month, day=value.day)


def dropout_report(facts: ReportFacts, tz: ZoneInfo) -> bytes:
    """The .docx, in the current locale (the caller speaks Chinese for the offices)."""
    page = facts.page
    child = page.child
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
    section.top_margin = section.bottom_margin = Cm(2.5)
    section.left_margin = section.right_margin = Cm(2.6)

    def paragraph(
        text: str = "",
        *,
        size: float = 14,
        bold: bool = False,
        font: str = FONT,
        align: WD_ALIGN_PARAGRAPH | None = None,
        indent: bool = False,
    ) -> None:
        p = document.add_paragraph()
        if align is not None:
            p.alignment = align
        p.paragraph_format.line_spacing = 1.5
        p.paragraph_format.space_after = Pt(0)
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        _font(p.add_run(text), font, size, bold)

    paragraph(
        _("Report on {child} leaving school").format(child=child.name),
        size=20,
        font=TITLE_FONT,
        align=WD_ALIGN_PARAGRAPH.CENTER,
    )
    paragraph()
    offices = [
        _("{county} Education Bureau").format(county=facts.county) if facts.county else "",
        _("{township} People's Government").format(township=facts.township)
        if facts.township
        else "",
    ]
    paragraph(_("To the {offices}:").format(offices="、".join(o for o in offices if o)))

    who = [child.name]
    if child.sex is not None:
        who.append(str(SEX[child.sex]))
    born = _("born {day}").format(day=_date(child.birth_date)) if child.birth_date else ""
    klass = "".join(x for x in (child.grade, child.class_name) if x)
    paragraph(
        _(
            "{name}{born}, a pupil of {site}{klass}, living at {address}, stopped coming to "
            "school; the school registered it on {registered}."
        ).format(
            name="，".join(w for w in who if w),
            born=f"（{born}）" if born else "",
            site=page.site.name,
            klass=klass,
            address=child.address or _("(not recorded)"),
            registered=_date(facts.registered_on),
        ),
        indent=True,
    )
    family = [
        _("Guardian: {relation} {name}, phone {phone}").format(
            relation=formatting.relation(g.relation) if g.relation else "",
            name=g.name,
            phone=formatting.phone(g.phone) or "—",
        )
        for g in facts.guardians
    ] + [
        _("{relation}: working in {place}, phone {phone}").format(
            relation=formatting.relation(relation),
            place=place or _("(not recorded)"),
            phone=formatting.phone(phone) or "—",
        )
        for relation, place, phone in facts.parents
    ]
    if family:
        paragraph(_("The family: {family}.").format(family="；".join(family)), indent=True)
    if page.escalation.details and page.escalation.details.get("note"):
        paragraph(
            _("As reported: {note}").format(note=page.escalation.details["note"]), indent=True
        )

    paragraph(
        _("The school and the village tried to bring the child back {count} times:").format(
            count=len(facts.persuasions)
        ),
        indent=True,
    )
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    headers = [_("No."), _("Date"), _("Who went"), _("Result")]
    widths = [Cm(1.3), Cm(4.4), Cm(4.4), Cm(5.7)]
    for cell, header, width in zip(table.rows[0].cells, headers, widths, strict=True):
        cell.width = width
        _font(cell.paragraphs[0].add_run(header), size=12, bold=True)
    for number, step in enumerate(facts.persuasions, start=1):
        row = table.add_row().cells
        values = [
            str(number),
            _date(step.on_day) if step.on_day else "—",
            step.by_whom or "—",
            step.note or "—",
        ]
        for cell, value, width in zip(row, values, widths, strict=True):
            cell.width = width
            _font(cell.paragraphs[0].add_run(value), size=12)
    if not facts.persuasions:
        row = table.add_row().cells
        _font(row[0].paragraphs[0].add_run("—"), size=12)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width  # the grid LibreOffice and WPS lay the table out by

    paragraph()
    paragraph(
        _(
            "As of {today}, {days} days after it was registered, the child has not returned "
            "to school. We report this in writing and ask for your help in bringing the child "
            "back to school."
        ).format(today=_date(facts.today), days=facts.days),
        indent=True,
    )
    paragraph(_("Please examine."), indent=True)
    paragraph()
    paragraph(
        _("School (stamp): {site}").format(site=page.site.name), align=WD_ALIGN_PARAGRAPH.RIGHT
    )
    paragraph(_("Head of school (signature): ____________"), align=WD_ALIGN_PARAGRAPH.RIGHT)
    paragraph(_("Date: ______ year ___ month ___ day"), align=WD_ALIGN_PARAGRAPH.RIGHT)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
