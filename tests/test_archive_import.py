"""Importing the archives: a messy real-world sheet, all or nothing, and re-imports."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.locales import load_translations
from domain.archive.archive_import import (
    FIX_FILL,
    BadDate,
    BadPhone,
    BadSex,
    DuplicateRow,
    GuardianNameMissing,
    ImportKind,
    ImportResult,
    MissingValue,
    NoHeader,
    bad_rows_workbook,
    describe_errors,
    import_archive,
    parse_date,
    parse_phone,
)
from domain.archive.spreadsheets import EmptySheet, UnreadableFile, UnsupportedFile
from domain.errors import NotASite, OutOfScope
from domain.models import (
    Child,
    Guardian,
    Guardianship,
    LeaveReason,
    Person,
    Priority,
    Region,
    RegionKind,
    Sex,
    Volunteer,
    VolunteerKind,
)
from tests.archive_sheets import GOOD_ROWS, HEADER, TITLE, messy_sheet, xlsx
from tests.factories import make_person, make_site, make_volunteer

AT = dt.datetime(2026, 11, 16, 2, 0, tzinfo=dt.UTC)
ZH = load_translations()["zh"].gettext


async def run(
    session: AsyncSession,
    site: Region,
    data: bytes,
    *,
    kind: ImportKind = ImportKind.children,
    file_name: str = "名单.xlsx",
    scope_paths: tuple[str, ...] | None = None,
) -> ImportResult:
    return await import_archive(
        session,
        kind=kind,
        site_id=site.id,
        data=data,
        file_name=file_name,
        scope_paths=scope_paths,
        actor_id=None,
        at=AT,
    )


async def children_of(session: AsyncSession, site: Region) -> list[Child]:
    """The children as stored, not as the session remembers them."""
    session.expunge_all()
    found = await session.scalars(
        select(Child)
        .where(Child.site_id == site.id)
        .options(selectinload(Child.guardians), selectinload(Child.parents))
        .order_by(Child.external_id)
    )
    return list(found)


async def test_a_messy_sheet_with_bad_rows_is_reported_and_nothing_is_applied(
    session: AsyncSession,
) -> None:
    site = await make_site(session)

    result = await run(session, site, messy_sheet())

    assert not result.applied
    assert [(e.row, e.column, type(e.problem)) for e in result.errors] == [
        (9, "出生日期", BadDate),
        (10, "性别", BadSex),
        (10, "监护人电话", BadPhone),
        (11, "姓名", MissingValue),
    ]
    lines = [line for _, line in describe_errors(result.errors, ZH)]
    assert lines[0] == "第 9 行「出生日期」：2015-13-40 不是日期，请写成 2015-03-02 这样。"
    assert (
        lines[2] == "第 10 行「监护人电话」：12345 不是有效的中国手机或座机号码（座机要带区号）。"
    )
    assert await children_of(session, site) == []


async def test_the_fixed_sheet_is_applied_and_read_right(session: AsyncSession) -> None:
    site = await make_site(session)

    result = await run(session, site, messy_sheet(fixed=True))

    assert (result.added, result.updated, result.unchanged, result.errors) == (8, 0, 0, ())
    children = {c.external_id: c for c in await children_of(session, site)}
    births = {key: c.birth_date for key, c in children.items()}
    assert births["S001"] == dt.date(2015, 3, 2)  # a date cell
    assert births["S002"] == dt.date(2014, 9, 1)  # 2014/9/1
    assert births["S003"] == dt.date(2016, 1, 15)  # 2016.1.15
    assert births["S004"] == dt.date(2013, 12, 5)  # 2013年12月5日
    assert births["S005"] == dt.date(2015, 3, 2)  # Excel serial 42065
    first = children["S001"]
    assert (first.name, first.sex, first.priority) == ("李小花", Sex.female, Priority.key)
    assert (first.grade, first.class_name, first.school) == ("三年级", "2班", "中和小学")
    assert first.guardianship is Guardianship.entrusted
    [guardian] = first.guardians
    assert (guardian.name, guardian.relation, guardian.phone) == (
        "李奶奶",
        "祖母",
        "+8613812345678",
    )
    assert guardian.entrusted
    parents = {p.relation: (p.work_place, p.phone) for p in first.parents}
    assert parents == {
        "father": ("广东东莞", "+8613987654321"),
        "mother": ("浙江宁波", "+8613700001111"),
    }
    assert children["S002"].guardians[0].phone == "+8613612345678"  # full-width digits
    assert children["S004"].guardians[0].phone == "+862367123456"  # a landline
    assert children["S004"].priority is Priority.key  # √
    assert children["S005"].guardians[0].phone == "+8613512345678"  # a number cell
    assert children["S005"].guardianship is Guardianship.none
    assert children["S003"].priority is Priority.normal  # left empty


async def test_a_second_import_changes_nothing_and_a_changed_cell_updates_one_child(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    await run(session, site, messy_sheet(fixed=True))
    ids_before = {c.id for c in await children_of(session, site)}

    again = await run(session, site, messy_sheet(fixed=True))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 8)

    rows = [list(r) for r in GOOD_ROWS]
    rows[0][10] = "13800009999"  # 李小花's guardian has a new phone
    changed = await run(session, site, xlsx(rows))

    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 4)
    children = await children_of(session, site)
    assert {c.id for c in children} == ids_before
    first = next(c for c in children if c.external_id == "S001")
    assert [g.phone for g in first.guardians] == ["+8613800009999"]
    assert await session.scalar(select(func.count()).select_from(Guardian)) == 8


async def test_without_an_id_column_children_are_matched_by_name_birth_date_and_school(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    header = ("姓名", "出生日期", "学校", "班级")
    await run(session, site, xlsx([("李小花", "2015-03-02", "中和小学", "2班")], header=header))

    moved = await run(
        session, site, xlsx([("李小花", "2015/3/2", "中和小学", "3班")], header=header)
    )

    assert (moved.added, moved.updated) == (0, 1)
    [child] = await children_of(session, site)
    assert child.class_name == "3班"


async def test_a_sheet_without_guardian_columns_keeps_the_guardians(session: AsyncSession) -> None:
    site = await make_site(session)
    await run(session, site, messy_sheet(fixed=True))

    result = await run(
        session, site, xlsx([("S001", "李小花", "4班")], header=("学号", "姓名", "班级"))
    )

    assert (result.added, result.updated) == (0, 1)
    child = next(c for c in await children_of(session, site) if c.external_id == "S001")
    assert child.class_name == "4班" and [g.name for g in child.guardians] == ["李奶奶"]


async def test_english_headers_in_any_order_and_a_header_on_the_first_row(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    data = xlsx(
        [("13800001111", "2015-03-02", "Li Xiaohua", "female", "yes", "Grandma")],
        header=("Guardian phone", "Date of birth", "Name", "Sex", "Key child", "Guardian"),
        title=None,
        first_row=1,
    )

    result = await run(session, site, data)

    assert result.added == 1
    [child] = await children_of(session, site)
    assert (child.sex, child.priority, child.birth_date) == (
        Sex.female,
        Priority.key,
        dt.date(2015, 3, 2),
    )
    assert [(g.name, g.phone) for g in child.guardians] == [("Grandma", "+8613800001111")]


async def test_a_guardians_phone_without_the_guardians_name_is_a_bad_row(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    data = xlsx([("李小花", "13800001111")], header=("姓名", "监护人电话"))

    result = await run(session, site, data)

    assert [(e.row, e.column, type(e.problem)) for e in result.errors] == [
        (4, None, GuardianNameMissing)
    ]


async def test_a_gbk_csv_from_chinese_excel(session: AsyncSession) -> None:
    site = await make_site(session)
    text = "姓名,性别,出生日期,监护人,监护人电话\r\n李小花,女,2015/3/2,李奶奶,138-1234-5678\r\n"

    result = await run(session, site, text.encode("gbk"), file_name="名单.csv")

    assert result.added == 1
    [child] = await children_of(session, site)
    assert (child.name, child.guardians[0].name) == ("李小花", "李奶奶")


async def test_a_utf8_csv_with_a_bom_and_the_same_child_twice(session: AsyncSession) -> None:
    site = await make_site(session)
    text = "姓名,出生日期\n李小花,2015-03-02\n王小明,2014-09-01\n李小花,2015.3.2\n"

    result = await run(session, site, text.encode("utf-8-sig"), file_name="a.csv")

    assert [(e.row, e.column, type(e.problem)) for e in result.errors] == [(4, None, DuplicateRow)]
    assert result.errors[0].problem.params == {"row": 2}


async def test_a_national_id_is_kept_only_as_a_hash(session: AsyncSession) -> None:
    site = await make_site(session)
    data = xlsx([("500241201503020021", "李小花")], header=("身份证号", "姓名"))

    await run(session, site, data)
    again = await run(session, site, data)

    [child] = await children_of(session, site)
    assert child.external_id is not None and "500241" not in child.external_id
    assert again.unchanged == 1


async def test_next_years_sheet_with_the_id_number_finds_the_child_of_the_school_number(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    header = ("学号", "姓名", "出生日期", "学校", "年级")
    await run(
        session, site, xlsx([("S001", "李小花", "2015-03-02", "中和小学", "一年级")], header=header)
    )

    # the new intake: the ID number instead of the school's number, the grade moved up
    header = ("身份证号", "姓名", "出生日期", "学校", "年级")
    row = ("500241201503020021", "李小花", "2015-03-02", "中和小学", "二年级")
    new = await run(
        session,
        site,
        xlsx(
            [row, ("500241201601010011", "王小明", "2016-01-01", "中和小学", "一年级")],
            header=header,
        ),
    )
    assert (new.added, new.updated, new.unchanged) == (1, 1, 0)
    again = await run(session, site, xlsx([row], header=header))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)

    # a sheet with both numbers finds her by either; namesakes with other ID numbers differ
    both = ("学号", "身份证号", "姓名", "出生日期", "学校", "年级")
    twin = ("S009", "500241201503020048", "李小花", "2015-03-02", "中和小学", "二年级")
    result = await run(session, site, xlsx([("S001", *row), twin], header=both))
    assert (result.added, result.updated, result.unchanged) == (1, 1, 0)
    assert sorted(c.name for c in await children_of(session, site)) == [
        "李小花",
        "李小花",
        "王小明",
    ]


async def test_a_child_who_left_and_is_on_the_new_list_is_back_and_an_erased_one_is_not_found(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    header = ("姓名", "出生日期", "学校")
    rows = [("李小花", "2015-03-02", "中和小学"), ("王小明", "2016-01-01", "中和小学")]
    await run(session, site, xlsx(rows, header=header))
    left, erased = sorted(await children_of(session, site), key=lambda c: c.name, reverse=True)
    left.left_at = erased.left_at = AT
    left.left_reason = LeaveReason.parents_returned
    erased.name, erased.birth_date, erased.forgotten_at = "—", None, AT
    await session.flush()

    result = await run(session, site, xlsx(rows, header=header))

    assert (result.added, result.updated, result.unchanged) == (1, 1, 0)
    children = await children_of(session, site)
    back = next(c for c in children if c.id == left.id)
    assert back.left_at is None and back.left_reason is None
    assert len(children) == 3


@pytest.mark.parametrize(
    ("data", "file_name", "error"),
    [
        (b"%PDF-1.4", "名单.pdf", UnsupportedFile),
        (b"\xd0\xcf\x11\xe0 old excel", "名单.xls", UnsupportedFile),
        (b"not a zip", "名单.xlsx", UnreadableFile),
        (xlsx([], header=(), title=None), "名单.xlsx", EmptySheet),
        (xlsx([("a", "b")], header=("甲", "乙")), "名单.xlsx", NoHeader),
        (b"\r\n,,\r\n", "a.csv", EmptySheet),
    ],
)
async def test_files_that_cannot_be_imported_say_why(
    session: AsyncSession, data: bytes, file_name: str, error: type[Exception]
) -> None:
    site = await make_site(session)
    with pytest.raises(error):
        await run(session, site, data, file_name=file_name)


async def test_only_a_site_in_the_coordinators_scope(session: AsyncSession) -> None:
    township = await make_site(session, kind=RegionKind.township)
    site = await make_site(session, parent=township)
    other = await make_site(session)

    with pytest.raises(OutOfScope):
        await run(session, other, messy_sheet(fixed=True), scope_paths=(township.path,))
    with pytest.raises(NotASite):
        await run(session, township, messy_sheet(fixed=True), scope_paths=(township.path,))
    result = await run(session, site, messy_sheet(fixed=True), scope_paths=(township.path,))
    assert result.added == 8


async def test_volunteers_are_imported_and_recognised_by_phone(session: AsyncSession) -> None:
    site = await make_site(session)
    known = await make_person(session, name="王老师", phone="+8613900001111", telegram_id=None)
    await make_volunteer(session, site, person=known, kind=VolunteerKind.teacher)
    rows: list[tuple[Any, ...]] = [
        ("王老师", "139 0000 1111", "教师", "是"),
        ("刘大爷", "137-0000-2222", "五老", "否"),
        ("陈阿姨", "13600003333", "爱心妈妈", None),
    ]
    data = xlsx(rows, header=("姓名", "手机号", "类型", "是否骨干"))

    first = await run(session, site, data, kind=ImportKind.volunteers)
    second = await run(session, site, data, kind=ImportKind.volunteers)

    assert (first.added, first.updated, first.unchanged) == (2, 1, 0)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)
    volunteers = {
        person.phone: (volunteer.kind, volunteer.is_core)
        for volunteer, person in await session.execute(
            select(Volunteer, Person).join(Person).where(Volunteer.site_id == site.id)
        )
    }
    assert volunteers == {
        "+8613900001111": (VolunteerKind.teacher, True),
        "+8613700002222": (VolunteerKind.wulao, False),
        "+8613600003333": (VolunteerKind.surrogate, False),
    }


async def test_the_sheet_comes_back_whole_with_a_reason_column_and_the_bad_cells_marked(
    session: AsyncSession,
) -> None:
    site = await make_site(session)

    result = await run(session, site, messy_sheet())
    sheet = load_workbook(io.BytesIO(bad_rows_workbook(result, ZH))).active
    assert sheet is not None

    # every row at its own number: the title, the header on row 3, the good rows too
    assert sheet.cell(row=1, column=1).value == TITLE
    assert tuple(c.value for c in sheet[3]) == (*HEADER, "错误原因")
    assert [sheet.cell(row=r, column=2).value for r in range(4, 12)] == [
        *(row[1] for row in GOOD_ROWS),
        "刘小燕",
        "孙小龙",
        None,
    ]
    reason = len(HEADER) + 1
    assert [sheet.cell(row=r, column=reason).value is not None for r in range(4, 12)] == [
        *([False] * 5),
        True,
        True,
        True,
    ]
    assert "性别" in sheet.cell(row=10, column=reason).value
    assert "监护人电话" in sheet.cell(row=10, column=reason).value
    sex = sheet.cell(row=10, column=HEADER.index("性别") + 1)
    assert sex.value == "未知"
    assert sex.fill.start_color.rgb == FIX_FILL
    assert sex.comment is not None and "男" in sex.comment.text
    assert sheet.cell(row=10, column=HEADER.index("姓名") + 1).comment is None
    assert sheet.cell(row=9, column=HEADER.index("出生日期") + 1).fill.start_color.rgb == FIX_FILL


# fmt: off
REAL_WORDS: list[tuple[str, str, Guardianship, str]] = [
    # 监护类型, 与儿童关系 as schools write them; what they mean
    ("隔代监护", "爷爷", Guardianship.guardian, "祖父"),
    ("祖辈监护", "奶奶", Guardianship.guardian, "祖母"),
    ("隔代监护", "外公", Guardianship.guardian, "外祖父"),
    ("隔代监护", "外婆", Guardianship.guardian, "外祖母"),
    ("祖辈监护", "祖父", Guardianship.guardian, "祖父"),
    ("亲属监护", "伯父", Guardianship.guardian, "伯父"),
    ("其他亲属监护", "叔叔", Guardianship.guardian, "叔叔"),
    ("亲属监护", "姑姑", Guardianship.guardian, "姑姑"),
    ("亲属监护", "舅舅", Guardianship.guardian, "舅舅"),
    ("亲属监护", "姨妈", Guardianship.guardian, "姨妈"),
    ("单亲监护", "母亲", Guardianship.guardian, "母亲"),
    ("父母一方监护", "父亲", Guardianship.guardian, "父亲"),
    ("委托监护", "其他亲属", Guardianship.entrusted, "其他亲属"),
    ("无人监护", "哥哥", Guardianship.none, "哥哥"),
    ("自我监护", "姐姐", Guardianship.none, "姐姐"),
    ("隔代监护", "祖母", Guardianship.guardian, "祖母"),
]
# fmt: on


async def test_the_words_of_real_sheets_are_read_and_mapped(session: AsyncSession) -> None:
    site = await make_site(session)
    header = ("姓名", "性别", "监护人", "与儿童关系", "监护方式", "是否重点", "学号")
    keys = ["是", "否", "√", "×", "有", "无"]
    rows = [
        (f"孩子{n}", "男", f"监护人{n}", relation, term, keys[n % 6], f"K{n:02d}")
        for n, (term, relation, _, _) in enumerate(REAL_WORDS)
    ]

    result = await run(session, site, xlsx(rows, header=header))

    assert result.errors == ()
    children = {c.external_id: c for c in await children_of(session, site)}
    for n, (_term, _relation, guardianship, canonical) in enumerate(REAL_WORDS):
        child = children[f"K{n:02d}"]
        assert child.guardianship is guardianship, (n, child.guardianship)
        assert child.guardians[0].relation == canonical
        key = Priority.key if keys[n % 6] in ("是", "√", "有") else Priority.normal
        assert child.priority is key, (n, keys[n % 6])


async def test_an_unknown_word_is_a_row_error_that_lists_what_is_accepted(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    header = ("姓名", "监护人", "与儿童关系", "监护类型", "是否重点")
    rows = [("小红", "李某", "干爹", "朋友照看", "可能")]

    result = await run(session, site, xlsx(rows, header=header))

    lines = [line for _, line in describe_errors(result.errors, ZH)]
    assert len(lines) == 3
    relation, guardianship, key = lines
    assert relation.startswith("第 4 行「与儿童关系」：“干爹”")
    assert "祖父" in relation and "爷爷" not in relation and "其他亲属" in relation
    assert guardianship.startswith("第 4 行「监护类型」：“朋友照看”")
    for word in ("隔代监护", "亲属监护", "单亲监护", "委托监护", "无人监护", "自我监护"):
        assert word in guardianship
    assert "是" in key and "否" in key and "有" in key
    assert await children_of(session, site) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-03-02", dt.date(2015, 3, 2)),
        ("2015/3/2", dt.date(2015, 3, 2)),
        ("2015.3.2", dt.date(2015, 3, 2)),
        ("2015年3月2日", dt.date(2015, 3, 2)),
        ("２０１５年３月２日", dt.date(2015, 3, 2)),
        ("20150302", dt.date(2015, 3, 2)),
        ("2015-03-02 00:00:00", dt.date(2015, 3, 2)),
        (42065, dt.date(2015, 3, 2)),
        (42065.0, dt.date(2015, 3, 2)),
        (dt.datetime(2015, 3, 2, 0, 0), dt.date(2015, 3, 2)),
        ("2015-02-30", None),
        ("三月二日", None),
        ("2015", None),
    ],
)
def test_dates_written_every_way(value: object, expected: dt.date | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138 1234 5678", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("(023) 6712-3456", "+862367123456"),
        ("6712 3456", None),  # a landline without its area code
        ("12345", None),
        ("+1 650 253 0000", None),  # not a Chinese number
        ("打电话", None),
    ],
)
def test_phone_numbers_written_every_way(text: str, expected: str | None) -> None:
    assert parse_phone(text) == expected


async def test_the_entrusted_guardians_letter_is_read_and_a_blank_cell_keeps_it(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    header = ("学号", "姓名", "监护类型", "监护人", "确认书签订日期")
    data = xlsx(
        [
            ("S1", "李小花", "委托监护", "李桂兰", "2026-09-01"),
            ("S2", "张小明", "委托监护", "王大伯", None),
            ("S3", "陈小军", "隔代监护", "陈奶奶", "2026-09-01"),
        ],
        header=header,
    )

    assert (await run(session, site, data)).added == 3
    letters = {
        c.name: [g.letter_signed_on for g in c.guardians] for c in await children_of(session, site)
    }
    assert letters == {"李小花": [dt.date(2026, 9, 1)], "张小明": [None], "陈小军": [None]}

    again = xlsx(
        [
            ("S1", "李小花", "委托监护", "李桂兰", None),
            ("S2", "张小明", "委托监护", "王大伯", "2026-11-10"),
        ],
        header=header,
    )
    assert (await run(session, site, again)).updated == 1
    letters = {
        c.name: [g.letter_signed_on for g in c.guardians] for c in await children_of(session, site)
    }
    assert letters["李小花"] == [dt.date(2026, 9, 1)] and letters["张小明"] == [
        dt.date(2026, 11, 10)
    ]
