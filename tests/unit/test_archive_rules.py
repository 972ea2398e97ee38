"""Reading the sheets schools keep: dates, phone numbers, guardianship terms, relations,
yes/no columns, headers, duplicates; and what people type to find a child or volunteer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from domain.archive.archive_import import (
    BadDate,
    BadGuardianship,
    BadPhone,
    BadRelation,
    BadYesNo,
    DuplicateRow,
    FutureDate,
    GuardianNameMissing,
    ImportKind,
    MissingValue,
    NoHeader,
    TooLong,
    parse,
    parse_date,
    parse_phone,
)
from domain.archive.lookup import phone_forms
from domain.archive.spreadsheets import Row, is_spreadsheet_name
from domain.models import Guardianship, Priority, Sex, VolunteerKind

TODAY = dt.date(2026, 11, 16)


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2015-03-02", dt.date(2015, 3, 2)),
        ("2015/3/2", dt.date(2015, 3, 2)),
        ("2015.3.2", dt.date(2015, 3, 2)),
        ("2015年3月2日", dt.date(2015, 3, 2)),
        ("２０１５年３月２日", dt.date(2015, 3, 2)),  # full-width digits
        ("20150302", dt.date(2015, 3, 2)),
        (20150302, dt.date(2015, 3, 2)),  # a number cell
        ("2015-03-02 00:00:00", dt.date(2015, 3, 2)),
        (42065, dt.date(2015, 3, 2)),  # an Excel serial number
        (dt.datetime(2015, 3, 2, 8, 0), dt.date(2015, 3, 2)),
        (dt.date(2016, 2, 29), dt.date(2016, 2, 29)),
    ],
)
def test_the_birth_dates_sheets_write(value: Any, day: dt.date) -> None:
    assert parse_date(value) == day


@pytest.mark.parametrize("value", ["2015-02-30", "2015-13-01", "三月二日", "2015", "", True])
def test_what_is_not_a_date(value: Any) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width
        ("023-6512 3456", "+862365123456"),  # a Chongqing landline
    ],
)
def test_chinese_phone_numbers_are_kept_in_one_form(text: str, e164: str) -> None:
    assert parse_phone(text) == e164


@pytest.mark.parametrize("text", ["12345", "1380013800", "+1 212 555 0100", "电话", "0000000"])
def test_what_is_not_a_chinese_phone_number(text: str) -> None:
    assert parse_phone(text) is None


def test_a_phone_typed_to_find_a_volunteer_matches_each_stored_form() -> None:
    assert phone_forms("138 0013 8000") == ["+8613800138000", "8613800138000", "13800138000"]
    assert phone_forms("李老师") is None
    assert phone_forms("42") is None


@pytest.mark.parametrize(
    ("name", "sheet"),
    [
        ("名单.xlsx", True),
        ("名单.XLSX", True),
        ("名单.csv", True),
        ("名单.xls", False),
        ("名单", False),
    ],
)
def test_which_files_are_sheets(name: str, sheet: bool) -> None:
    assert is_spreadsheet_name(name) is sheet


# a children's sheet ------------------------------------------------------------------------

HEADER = ("姓名", "性别", "出生日期", "监护类型", "监护人", "与儿童关系", "监护人电话", "是否重点")


def sheet(*rows: tuple[Any, ...], header: tuple[str, ...] = HEADER) -> list[Row]:
    title = Row(1, ("中和小学留守儿童名单",))
    return [title, Row(2, header), *(Row(3 + i, row) for i, row in enumerate(rows))]


def one_child(**cells: Any) -> Any:
    values = {
        "姓名": "李小花",
        "性别": "女",
        "出生日期": "2015-03-02",
        "监护类型": "隔代监护",
        "监护人": "李桂兰",
        "与儿童关系": "奶奶",
        "监护人电话": "13800000003",
        "是否重点": "是",
    } | cells
    return parse(ImportKind.children, sheet(tuple(values[h] for h in HEADER)), today=TODAY)


def test_a_childs_row_read_through_the_header_below_the_title() -> None:
    parsed = one_child()
    assert parsed.header_row == 2
    assert parsed.errors == ()
    [(row, child)] = parsed.records
    assert row == 3
    assert (child.name, child.sex, child.birth_date) == ("李小花", Sex.female, dt.date(2015, 3, 2))
    assert child.priority is Priority.key
    assert child.guardianship is Guardianship.guardian
    [guardian] = child.guardians
    assert (guardian.name, guardian.relation, guardian.phone) == (
        "李桂兰",
        "祖母",
        "+8613800000003",
    )


@pytest.mark.parametrize(
    ("term", "guardianship"),
    [
        ("隔代监护", Guardianship.guardian),
        ("祖辈监护", Guardianship.guardian),
        ("亲属监护", Guardianship.guardian),
        ("其他亲属监护", Guardianship.guardian),
        ("单亲监护", Guardianship.guardian),
        ("父母一方监护", Guardianship.guardian),
        ("委托监护", Guardianship.entrusted),
        ("无人监护", Guardianship.none),
        ("自我监护", Guardianship.none),
        ("Entrusted Guardian", Guardianship.entrusted),
    ],
)
def test_the_guardianship_terms_schools_write(term: str, guardianship: Guardianship) -> None:
    [(_, child)] = one_child(监护类型=term).records
    assert child.guardianship is guardianship


def test_an_unknown_guardianship_term_is_named_with_the_accepted_ones() -> None:
    parsed = one_child(监护类型="奶奶带")
    assert parsed.records == ()
    [error] = parsed.errors
    assert (error.row, error.column) == (3, "监护类型")
    assert isinstance(error.problem, BadGuardianship)


@pytest.mark.parametrize(
    ("word", "relation"),
    [
        ("爷爷", "祖父"),
        ("祖父", "祖父"),
        ("奶奶", "祖母"),
        ("外公", "外祖父"),
        ("外婆", "外祖母"),
        ("伯父", "伯父"),
        ("叔叔", "叔叔"),
        ("姑姑", "姑姑"),
        ("舅舅", "舅舅"),
        ("姨妈", "姨妈"),
        ("哥哥", "哥哥"),
        ("姐姐", "姐姐"),
        ("邻居", "其他亲属"),
    ],
)
def test_a_guardians_relation_is_kept_as_one_word(word: str, relation: str) -> None:
    [(_, child)] = one_child(与儿童关系=word).records
    assert child.guardians[0].relation == relation


@pytest.mark.parametrize(
    ("cell", "priority"),
    [
        ("是", Priority.key),
        ("√", Priority.key),
        ("有", Priority.key),
        ("否", Priority.normal),
        ("×", Priority.normal),
        ("无", Priority.normal),
        (None, Priority.normal),
    ],
)
def test_yes_no_columns_as_schools_write_them(cell: str | None, priority: Priority) -> None:
    [(_, child)] = one_child(是否重点=cell).records
    assert child.priority is priority


@pytest.mark.parametrize(
    ("cells", "column", "problem"),
    [
        ({"姓名": None}, "姓名", MissingValue),
        ({"姓名": "李" * 101}, "姓名", TooLong),
        ({"出生日期": "三月"}, "出生日期", BadDate),
        ({"出生日期": "2027-01-01"}, "出生日期", FutureDate),
        ({"监护人电话": "12345"}, "监护人电话", BadPhone),
        ({"与儿童关系": "外星人"}, "与儿童关系", BadRelation),
        ({"是否重点": "也许"}, "是否重点", BadYesNo),
        ({"监护人": None}, "监护人", GuardianNameMissing),  # a phone without a name
    ],
)
def test_a_bad_cell_is_named_by_row_and_column(
    cells: dict[str, Any], column: str, problem: type[Exception]
) -> None:
    parsed = one_child(**cells)
    assert parsed.records == ()
    [error] = parsed.errors
    assert (error.row, error.column) == (3, column)
    assert isinstance(error.problem, problem)


def test_the_same_child_twice_is_a_duplicate_of_the_first_row() -> None:
    row = ("李小花", "女", "2015-03-02", "隔代监护", "李桂兰", "奶奶", "13800000003", "是")
    parsed = parse(ImportKind.children, sheet(row, row), today=TODAY)
    assert [r for r, _ in parsed.records] == [3]
    [error] = parsed.errors
    assert error.row == 4 and isinstance(error.problem, DuplicateRow)


def test_two_children_of_one_name_with_other_birthdays_are_two() -> None:
    first = ("王小明", "男", "2014-05-01", "隔代监护", "王大爷", "爷爷", None, "否")
    second = ("王小明", "男", "2016-09-12", "隔代监护", "王大爷", "爷爷", None, "否")
    parsed = parse(ImportKind.children, sheet(first, second), today=TODAY)
    assert len(parsed.records) == 2 and parsed.errors == ()


def test_one_parents_phone_cell_may_hold_both_numbers() -> None:
    header = ("姓名", "父亲务工地", "母亲务工地", "父母电话")
    row = ("李小花", "广东东莞", "浙江义乌", "13800000001/13800000002")
    [(_, child)] = parse(ImportKind.children, sheet(row, header=header), today=TODAY).records
    assert [(p.relation, p.work_place, p.phone) for p in child.parents] == [
        ("father", "广东东莞", "+8613800000001"),
        ("mother", "浙江义乌", "+8613800000002"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        ("学生姓名", "性别"),
        ("Name", "Sex"),
        ("姓 名", "性 别"),  # spaces inside
        ("姓名（必填）", "性别"),  # a note in brackets
    ],
)
def test_headers_are_found_however_written(header: tuple[str, ...]) -> None:
    parsed = parse(ImportKind.children, sheet(("李小花", "女"), header=header), today=TODAY)
    assert parsed.fields == {"name", "sex"}
    assert parsed.records[0][1].sex is Sex.female


def test_a_sheet_without_our_header_is_refused() -> None:
    with pytest.raises(NoHeader):
        parse(ImportKind.children, sheet(("李小花", "女"), header=("甲", "乙")), today=TODAY)


# a volunteers' sheet -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("五老", VolunteerKind.wulao),
        ("代理家长", VolunteerKind.surrogate),
        ("爱心妈妈", VolunteerKind.surrogate),
        ("班主任", VolunteerKind.teacher),
    ],
)
def test_the_volunteers_kinds_sheets_name(kind: str, expected: VolunteerKind) -> None:
    rows = sheet(
        ("王老师", "13800138000", kind, "骨干"), header=("姓名", "电话", "类型", "是否骨干")
    )
    [(_, volunteer)] = parse(ImportKind.volunteers, rows, today=TODAY).records
    assert (volunteer.kind, volunteer.is_core, volunteer.phone) == (
        expected,
        True,
        "+8613800138000",
    )


def test_a_volunteer_needs_a_phone() -> None:
    rows = sheet(("王老师", None), header=("姓名", "电话"))
    [error] = parse(ImportKind.volunteers, rows, today=TODAY).errors
    assert error.column == "电话" and isinstance(error.problem, MissingValue)


def test_one_phone_twice_is_one_volunteer_twice() -> None:
    rows = sheet(("王老师", "13800138000"), ("王明", "138 0013 8000"), header=("姓名", "电话"))
    parsed = parse(ImportKind.volunteers, rows, today=TODAY)
    assert len(parsed.records) == 1
    assert isinstance(parsed.errors[0].problem, DuplicateRow)
