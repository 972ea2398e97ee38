"""Spreadsheets as schools keep them, built in memory for the import tests."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

TITLE = "中和小学留守儿童信息登记表（2026年秋季）"
HEADER = (
    "序号",
    "姓名",
    "性别",
    "出生日期",
    "年级",
    "班级",
    "学校",
    "家庭住址",
    "监护人",
    "与儿童关系",
    "监护人电话",
    "父亲务工地",
    "母亲务工地",
    "父母电话",
    "是否重点",
    "监护类型",
    "学号",
)

# fmt: off
# One row per child: dates and phones written every way people write them.
GOOD_ROWS: list[tuple[Any, ...]] = [
    (1, "李小花", "女", dt.datetime(2015, 3, 2), "三年级", "2班", "中和小学", "中和镇河湾村3组",
     "李奶奶", "祖母", "138 1234 5678", "广东东莞", "浙江宁波", "139-8765-4321/13700001111",
     "是", "委托监护", "S001"),
    (2, "王小明", "男", "2014/9/1", "四年级", "1班", "中和小学", "中和镇石桥村",
     "王爷爷", "祖父", "１３６１２３４５６７８", "重庆", None, "15912345678",
     "否", "监护人", "S002"),
    (3, "张小红", "女", "2016.1.15", "二年级", "1班", "中和小学", None,
     "张外婆", "外祖母", "+86 137-0000-2222", None, "福建厦门", None, None, None, "S003"),
    (4, "赵大力", "男", "2013年12月5日", "五年级", "3班", "中和小学", "中和镇新街12号",
     "赵叔叔", "叔叔", "023-6712 3456", "上海", "上海", None, "√", "监护人", "S004"),
    (5, "陈小军", "男", 42065, "三年级", "2班", "中和小学", None,
     "陈奶奶", "祖母", 13512345678, None, None, None, "否", "无人监护", "S005"),
]

# Bad cells for rows 6-8 of the data (sheet rows 9-11), and their corrected values.
BAD_ROWS: list[tuple[Any, ...]] = [
    (6, "刘小燕", "女", "2015-13-40", "一年级", "1班", "中和小学", None,
     "刘奶奶", "祖母", "13800001111", None, None, None, "否", "监护人", "S006"),
    (7, "孙小龙", "未知", "2014-05-06", "四年级", "2班", "中和小学", None,
     "孙爷爷", "祖父", "12345", None, None, None, "否", "监护人", "S007"),
    (8, None, "女", "2015-07-08", "三年级", "1班", "中和小学", None,
     "周奶奶", "祖母", "13800002222", None, None, None, "否", "监护人", "S008"),
]
FIXED_ROWS: list[tuple[Any, ...]] = [
    (6, "刘小燕", "女", "2015-12-04", "一年级", "1班", "中和小学", None,
     "刘奶奶", "祖母", "13800001111", None, None, None, "否", "监护人", "S006"),
    (7, "孙小龙", "男", "2014-05-06", "四年级", "2班", "中和小学", None,
     "孙爷爷", "祖父", "13800003333", None, None, None, "否", "监护人", "S007"),
    (8, "周小雨", "女", "2015-07-08", "三年级", "1班", "中和小学", None,
     "周奶奶", "祖母", "13800002222", None, None, None, "否", "监护人", "S008"),
]
# fmt: on


def xlsx(
    rows: Sequence[Sequence[Any]],
    *,
    header: Sequence[str] = HEADER,
    title: str | None = TITLE,
    first_row: int = 3,
) -> bytes:
    """A workbook with a title merged over the first two rows and the header on row 3."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "留守儿童"
    if title:
        sheet.cell(row=1, column=1, value=title)
        sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=len(header))
    for column, label in enumerate(header, start=1):
        sheet.cell(row=first_row, column=column, value=label)
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=first_row + offset, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def messy_sheet(*, fixed: bool = False) -> bytes:
    return xlsx(GOOD_ROWS + (FIXED_ROWS if fixed else BAD_ROWS))


def long_sheet(
    rows: int, *, header: Sequence[str] = ("姓名", "性别"), distinct: bool = True
) -> bytes:
    """An .xlsx of `rows` children under `header`, its XML written straight into the zip.
    Rows all alike (not `distinct`) pack as a bomb does: two million in a few hundred KB."""
    import zipfile

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{rels}"><Relationship Id="rId1" '
            f'Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{office}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{rels}"><Relationship Id="rId1" '
            f'Type="{office}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }

    def row(values: Sequence[str]) -> str:  # numbered by their order, as Excel allows
        cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
        return f"<row>{cells}</row>"

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{main}"><sheetData>'.encode())
            sheet.write(row(header).encode())
            if distinct:
                for n in range(rows):
                    sheet.write(row((f"孩子{n}", "女")).encode())
            else:
                chunk, left = (row(("孩子", "女")) * 10_000).encode(), rows
                while left >= 10_000:
                    sheet.write(chunk)
                    left -= 10_000
                sheet.write(row(("孩子", "女")).encode() * left)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()
