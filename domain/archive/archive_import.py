"""导入档案: children's archives and volunteer lists from the coordinators' own spreadsheets.

The sheets are the ones schools already keep: a title above, the header on some row near
the top, columns in any order and named in Chinese or English, dates and phone numbers
written every way people write them. Parsing is pure and collects every problem with the
row and column the coordinator sees; applying is all or nothing. Re-importing a sheet
updates what changed and leaves the rest: a child is recognised by the sheet's ID column
when it has one, else by name + birth date + school; a volunteer by Telegram ID or phone.
A column the sheet does not have leaves that part of the archive as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import phonenumbers
from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.archive.spreadsheets import DEFAULT_LIMITS, Row, SheetLimits, read_rows
from domain.errors import DomainError, NotASite
from domain.models import (
    Account,
    Channel,
    Child,
    Guardian,
    Guardianship,
    Parent,
    Person,
    Priority,
    Region,
    Sex,
    Volunteer,
    VolunteerKind,
)
from domain.people import audit, regions

HEADER_SEARCH_ROWS = 10


class ImportKind(enum.StrEnum):
    children = "children"
    volunteers = "volunteers"


# ---------------------------------------------------------------- what can be wrong


class NoHeader(DomainError):
    message = (
        "No header row was found in the first {rows} rows. The sheet needs a row naming its "
        "columns, for example: {columns}."
    )


class MissingValue(DomainError):
    message = "This must be filled in."


class TooLong(DomainError):
    message = "This is too long: at most {limit} characters."


class BadDate(DomainError):
    message = "{value} is not a date; write it like 2015-03-02."


class FutureDate(DomainError):
    message = "{value} is in the future."


class BadPhone(DomainError):
    message = "{value} is not a Chinese mobile or landline number (a landline needs its area code)."


class BadNumber(DomainError):
    message = "{value} is not a whole number."


class BadSex(DomainError):
    message = "{value}: write 男 or 女."


class BadYesNo(DomainError):
    message = "{value}: write 是 or 否 (√ or ×, 有 or 无 are fine too)."


class BadGuardianship(DomainError):
    message = "{value} is not a kind of guardianship; write one of: {accepted}."


class BadRelation(DomainError):
    message = "{value} is not a relation to the child; write one of: {accepted}."


class BadVolunteerKind(DomainError):
    message = "{value}: write 五老, 代理家长 or 教师."


class GuardianNameMissing(DomainError):
    message = "The guardian's name is missing: a guardian's phone, relation or age needs it."


class DuplicateRow(DomainError):
    message = "The same person is already in row {row}."


@dataclass(frozen=True)
class RowError:
    row: int  # as the spreadsheet program shows it
    column: str | None  # the header as written in the sheet
    problem: DomainError


# ---------------------------------------------------------------- columns


def _header_key(text: str) -> str:
    """Headers compare without case, spaces, punctuation, full-width forms or notes in brackets."""
    key = unicodedata.normalize("NFKC", text).lower()
    key = re.sub(r"\(.*?\)|\[.*?\]", "", key)
    return re.sub(r"[\s*:_\-'’.、/]", "", key)


def _columns(synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_header_key(name): field for field, names in synonyms.items() for name in names}


CHILD_COLUMNS = _columns(
    {
        "external_id": ("编号", "学号", "学籍号", "儿童编号", "档案号", "id", "student id"),
        "national_id": ("身份证", "身份证号", "身份证号码", "national id", "id card"),
        "name": ("姓名", "儿童姓名", "学生姓名", "name", "child name", "child's name"),
        "sex": ("性别", "sex", "gender"),
        "birth_date": (
            "出生日期",
            "出生年月日",
            "出生年月",
            "生日",
            "birth date",
            "date of birth",
            "birthday",
        ),
        "school": ("学校", "就读学校", "所在学校", "school"),
        "grade": ("年级", "grade"),
        "class_name": ("班级", "班", "class"),
        "address": ("家庭住址", "家庭地址", "住址", "地址", "home address", "address"),
        "guardian_name": ("监护人", "监护人姓名", "委托监护人", "guardian", "guardian name"),
        "guardian_relation": (
            "与儿童关系",
            "与孩子关系",
            "与学生关系",
            "监护人关系",
            "关系",
            "relation to child",
            "relation",
            "relationship",
        ),
        "guardian_age": ("监护人年龄", "guardian age", "guardian's age"),
        "guardian_address": ("监护人住址", "监护人地址", "guardian address"),
        "guardian_phone": (
            "监护人电话",
            "监护人联系电话",
            "监护人手机",
            "guardian phone",
            "guardian's phone",
        ),
        "father_work": (
            "父亲务工地",
            "父亲务工地点",
            "父亲务工地址",
            "father's work place",
            "father work place",
        ),
        "mother_work": (
            "母亲务工地",
            "母亲务工地点",
            "母亲务工地址",
            "mother's work place",
            "mother work place",
        ),
        "parents_phone": (
            "父母电话",
            "父母联系电话",
            "家长电话",
            "parents' phone",
            "parents phone",
        ),
        "father_phone": ("父亲电话", "父亲联系电话", "父亲手机", "father's phone", "father phone"),
        "mother_phone": ("母亲电话", "母亲联系电话", "母亲手机", "mother's phone", "mother phone"),
        "priority": (
            "是否重点",
            "重点",
            "是否重点留守儿童",
            "重点儿童",
            "key child",
            "key",
            "priority",
        ),
        "guardianship": ("监护类型", "监护情况", "监护方式", "guardianship"),
        "guardian_letter": (
            "委托监护责任确认书签订日期",
            "责任确认书签订日期",
            "确认书签订日期",
            "委托监护责任确认书",
            "letter signed on",
            "letter signed",
        ),
        "study": ("学习情况", "学习", "study"),
        "health": ("健康状况", "健康情况", "身体状况", "health"),
        "personality": ("性格", "性格特点", "personality"),
        "interests": ("兴趣爱好", "爱好", "兴趣", "interests", "hobbies"),
    }
)

VOLUNTEER_COLUMNS = _columns(
    {
        "name": ("姓名", "志愿者姓名", "name"),
        "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "电话号码", "phone", "mobile"),
        "kind": ("类型", "志愿者类型", "身份", "类别", "type", "kind"),
        "is_core": ("是否骨干", "骨干", "core", "core volunteer"),
        "telegram_id": ("telegram id", "telegram", "tg id", "telegramid"),
    }
)

_EXAMPLE_COLUMNS = {
    ImportKind.children: "姓名、性别、出生日期、学校、监护人、监护人电话",
    ImportKind.volunteers: "姓名、电话、类型、是否骨干",
}

_GUARDIAN_FIELDS = frozenset(
    {"guardian_name", "guardian_relation", "guardian_age", "guardian_address", "guardian_phone"}
)
_PARENT_FIELDS = frozenset(
    {"father_work", "mother_work", "parents_phone", "father_phone", "mother_phone"}
)


def _value_map(choices: dict[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {_header_key(word): value for value, words in choices.items() for word in words}


_SEX = _value_map(
    {
        Sex.male: ("男", "男性", "male", "m", "boy"),
        Sex.female: ("女", "女性", "female", "f", "girl"),
    }
)
_YES_NO = _value_map(
    {
        True: ("是", "有", "重点", "y", "yes", "true", "1", "√", "✓", "✔", "☑", "骨干"),
        False: (
            "否",
            "无",
            "没有",
            "不是",
            "一般",
            "非重点",
            "n",
            "no",
            "false",
            "0",
            "×",
            "✗",
            "╳",
        ),
    }
)

# The guardianship words of real sheets (DOMAIN.md, "What the real sheets say"). The model
# asks one thing of them: is there a capable guardian at home, an entrusted one (who signs
# the responsibility letter), or nobody. Grandparents, other relatives and the parent at
# home are all guardians at home; who they are is the guardian's relation.
GUARDIANSHIP_WORDS: dict[Guardianship, tuple[str, ...]] = {
    Guardianship.guardian: (
        "隔代监护",
        "祖辈监护",
        "亲属监护",
        "其他亲属监护",
        "单亲监护",
        "父母一方监护",
        "监护人",
    ),
    Guardianship.entrusted: ("委托监护",),
    Guardianship.none: ("无人监护", "自我监护"),
}
_GUARDIANSHIP = _value_map(
    {
        Guardianship.guardian: (
            *GUARDIANSHIP_WORDS[Guardianship.guardian],
            "隔代",
            "祖辈",
            "隔代抚养",
            "祖父母监护",
            "外祖父母监护",
            "爷爷奶奶监护",
            "亲属",
            "亲戚监护",
            "其他亲属",
            "单亲",
            "单亲家庭",
            "父亲监护",
            "母亲监护",
            "父母监护",
            "监护人监护",
            "guardian",
            "grandparents",
            "relative",
            "relatives",
            "single parent",
            "one parent",
        ),
        Guardianship.entrusted: (
            *GUARDIANSHIP_WORDS[Guardianship.entrusted],
            "委托监护人",
            "委托",
            "委托他人监护",
            "entrusted",
            "entrusted guardian",
        ),
        Guardianship.none: (
            *GUARDIANSHIP_WORDS[Guardianship.none],
            "无监护",
            "无监护人",
            "自我",
            "独居",
            "none",
            "no guardian",
            "self",
        ),
    }
)

# A guardian's relation to the child, stored as the first word of its line: 爷爷 and 祖父
# are the same person, and the record and the counts say 祖父.
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    "祖父": ("爷爷", "祖父", "grandfather", "grandpa"),
    "祖母": ("奶奶", "祖母", "grandmother", "grandma"),
    "外祖父": ("外公", "姥爷", "外祖父", "maternal grandfather"),
    "外祖母": ("外婆", "姥姥", "外祖母", "maternal grandmother"),
    "父亲": ("父亲", "爸爸", "父", "father", "dad"),
    "母亲": ("母亲", "妈妈", "母", "mother", "mum", "mom"),
    "伯父": ("伯父", "伯伯", "大伯", "伯母", "大妈"),
    "叔叔": ("叔叔", "叔父", "叔", "婶婶", "婶子", "婶母", "uncle"),
    "姑姑": ("姑姑", "姑妈", "姑母", "姑父", "aunt"),
    "舅舅": ("舅舅", "舅父", "舅妈", "舅母"),
    "姨妈": ("姨妈", "姨母", "阿姨", "小姨", "姨", "姨父"),
    "哥哥": ("哥哥", "兄", "brother"),
    "姐姐": ("姐姐", "姐", "sister"),
    "其他亲属": ("其他亲属", "亲属", "亲戚", "其他", "邻居", "委托人", "relative", "other"),
}
_ACCEPTED_GUARDIANSHIP = "、".join(w for words in GUARDIANSHIP_WORDS.values() for w in words)
_ACCEPTED_RELATIONS = "、".join(RELATION_WORDS)
_RELATION = _value_map({canonical: words for canonical, words in RELATION_WORDS.items()})
_VOLUNTEER_KIND = _value_map(
    {
        VolunteerKind.wulao: ("五老", "五老志愿者", "wulao"),
        VolunteerKind.surrogate: (
            "代理家长",
            "代理妈妈",
            "代理爸爸",
            "爱心妈妈",
            "surrogate",
            "surrogate parent",
        ),
        VolunteerKind.teacher: ("教师", "老师", "班主任", "teacher"),
    }
)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class GuardianRecord:
    name: str
    relation: str | None
    age: int | None
    address: str | None
    phone: str | None


@dataclass(frozen=True)
class ParentRecord:
    relation: str  # father / mother
    work_place: str | None
    phone: str | None


@dataclass(frozen=True)
class ChildRecord:
    external_id: str | None
    name: str
    sex: Sex | None
    birth_date: dt.date | None
    school: str | None
    grade: str | None
    class_name: str | None
    address: str | None
    priority: Priority
    guardianship: Guardianship
    study: str | None
    health: str | None
    personality: str | None
    interests: str | None
    guardians: tuple[GuardianRecord, ...]
    parents: tuple[ParentRecord, ...]
    letter_signed_on: dt.date | None = None  # 委托监护责任确认书, for an entrusted guardian
    national_id_key: str | None = None  # the 身份证 number's hash, when the sheet has one

    @property
    def ids(self) -> tuple[str, ...]:
        """The keys that name this child alone: the sheet's own number, the ID number's hash."""
        return tuple(dict.fromkeys(k for k in (self.external_id, self.national_id_key) if k))


@dataclass(frozen=True)
class VolunteerRecord:
    name: str
    phone: str
    kind: VolunteerKind | None
    is_core: bool | None
    telegram_id: int | None


R = TypeVar("R")


@dataclass(frozen=True)
class ParsedSheet(Generic[R]):
    header_row: int
    header: tuple[str, ...]  # as written in the sheet
    fields: frozenset[str]  # which of ours the sheet has
    rows: tuple[Row, ...]  # the data rows, as read
    records: tuple[tuple[int, R], ...]  # row number, record (rows without problems)
    errors: tuple[RowError, ...]
    above: tuple[Row, ...] = ()  # the title rows above the header, as read


# ---------------------------------------------------------------- parsing


def _label(value: Any) -> str:
    return "" if value is None else str(value).strip()


def find_header(
    rows: Sequence[Row], columns: dict[str, str], kind: ImportKind
) -> tuple[int, dict[str, int]]:
    """The header row near the top: the one naming the most of our columns, `name` among them."""
    best: tuple[int, dict[str, int]] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found: dict[str, int] = {}
        for position, value in enumerate(row.values):
            field = columns.get(_header_key(_label(value)))
            if field is not None and field not in found:
                found[field] = position
        if "name" in found and len(found) >= 2 and (best is None or len(found) > len(best[1])):
            best = (index, found)
    if best is None:
        raise NoHeader(rows=HEADER_SEARCH_ROWS, columns=_EXAMPLE_COLUMNS[kind])
    return best


class _Cells:
    """One data row read through the header; problems are collected, not raised."""

    def __init__(
        self, row: Row, positions: dict[str, int], header: Sequence[str], errors: list[RowError]
    ) -> None:
        self.row = row
        self._positions = positions
        self._header = header
        self._errors = errors
        self.failed = False

    def fail(self, field: str, problem: DomainError) -> None:
        position = self._positions.get(field)
        column = self._header[position] if position is not None else None
        self._errors.append(RowError(self.row.number, column, problem))
        self.failed = True

    def raw(self, field: str) -> Any:
        position = self._positions.get(field)
        if position is None or position >= len(self.row.values):
            return None
        value = self.row.values[position]
        if isinstance(value, str):
            value = value.strip().strip("\u3000") or None
        return value

    def text(self, field: str, limit: int) -> str | None:
        value = self.raw(field)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, dt.datetime):
            value = value.date()
        text = str(value).strip()
        if len(text) > limit:
            self.fail(field, TooLong(limit=limit))
            return None
        return text

    def required(self, field: str, limit: int) -> str:
        if self.raw(field) is None:
            self.fail(field, MissingValue())
        return self.text(field, limit) or ""

    def choice(
        self, field: str, values: dict[str, Any], problem: type[DomainError], **params: str
    ) -> Any:
        text = self.text(field, 32)
        if text is None:
            return None
        if (found := values.get(_header_key(text))) is None:
            self.fail(field, problem(value=text, **params))
        return found

    def number(self, field: str) -> int | None:
        text = self.text(field, 16)
        if text is None:
            return None
        digits = unicodedata.normalize("NFKC", text).removesuffix("岁").strip()
        if not digits.isdigit():
            self.fail(field, BadNumber(value=text))
            return None
        return int(digits)

    def date(self, field: str, today: dt.date) -> dt.date | None:
        value = self.raw(field)
        if value is None:
            return None
        found = parse_date(value)
        if found is None:
            self.fail(field, BadDate(value=_label(value)))
        elif found > today:
            self.fail(field, FutureDate(value=found.isoformat()))
            return None
        return found

    def phones(self, field: str) -> list[str]:
        text = self.text(field, 64)
        if text is None:
            return []
        found = []
        for part in re.split(r"[/、,，;；]|\s{2,}", text):
            if part.strip():
                phone = parse_phone(part)
                if phone is None:
                    self.fail(field, BadPhone(value=part.strip()))
                    return []
                found.append(phone)
        return found

    def phone(self, field: str) -> str | None:
        phones = self.phones(field)
        return phones[0] if phones else None


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def parse_date(value: Any) -> dt.date | None:
    """2015-03-02, 2015/3/2, 2015.3.2, 2015年3月2日, 20150302, a date cell or an Excel serial."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 100_000:  # an Excel serial number: days since 1899-12-30
            from openpyxl.utils.datetime import from_excel  # openpyxl loads only when needed

            converted = from_excel(value)
            return converted.date() if isinstance(converted, dt.datetime) else None
        value = str(int(value)) if float(value).is_integer() else str(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if (match := _DATE.match(text)) is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


@functools.lru_cache(maxsize=4096)
def parse_phone(text: str) -> str | None:
    """A Chinese mobile or landline number in E.164, or None when it is not one.

    A number of a known type is a valid one: `number_type` matches the region's patterns.
    """
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", text), "CN")
    except phonenumbers.NumberParseException:
        return None
    if (
        phonenumbers.region_code_for_number(number) != "CN"
        or phonenumbers.number_type(number) not in _PHONE_TYPES
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _national_id_key(text: str) -> str:
    """A 身份证 number is kept only as a hash: a stable key without holding the number."""
    digest = hashlib.sha256(unicodedata.normalize("NFKC", text).upper().encode()).hexdigest()
    return f"sfz-{digest[:40]}"


def _child(cells: _Cells, today: dt.date) -> ChildRecord:
    national_id = cells.text("national_id", 32)
    guardianship = cells.choice(
        "guardianship", _GUARDIANSHIP, BadGuardianship, accepted=_ACCEPTED_GUARDIANSHIP
    )
    guardian_name = cells.text("guardian_name", 100)
    guardian = GuardianRecord(
        name=guardian_name or "",
        relation=cells.choice(
            "guardian_relation", _RELATION, BadRelation, accepted=_ACCEPTED_RELATIONS
        ),
        age=cells.number("guardian_age"),
        address=cells.text("guardian_address", 300),
        phone=cells.phone("guardian_phone"),
    )
    if cells.raw("guardian_name") is None and (guardian.relation or guardian.phone or guardian.age):
        cells.fail("guardian_name", GuardianNameMissing())
    parents_phones: list[str | None] = [*cells.phones("parents_phone")]
    # one 父母电话 cell may hold both numbers: the father's first, as sheets write them
    parents_phones += [None, None]
    father_phone = cells.phone("father_phone") or parents_phones[0]
    mother_phone = cells.phone("mother_phone") or parents_phones[1]
    parents = tuple(
        ParentRecord(relation, work_place, phone)
        for relation, work_place, phone in (
            ("father", cells.text("father_work", 200), father_phone),
            ("mother", cells.text("mother_work", 200), mother_phone),
        )
        if work_place or phone
    )
    national_id_key = _national_id_key(national_id) if national_id else None
    return ChildRecord(
        external_id=cells.text("external_id", 64) or national_id_key,
        national_id_key=national_id_key,
        name=cells.required("name", 100),
        sex=cells.choice("sex", _SEX, BadSex),
        birth_date=cells.date("birth_date", today),
        school=cells.text("school", 200),
        grade=cells.text("grade", 32),
        class_name=cells.text("class_name", 32),
        address=cells.text("address", 300),
        priority=Priority.key if cells.choice("priority", _YES_NO, BadYesNo) else Priority.normal,
        guardianship=guardianship or Guardianship.guardian,
        study=cells.text("study", 2000),
        health=cells.text("health", 2000),
        personality=cells.text("personality", 2000),
        interests=cells.text("interests", 2000),
        guardians=(guardian,) if guardian_name else (),
        parents=parents,
        letter_signed_on=cells.date("guardian_letter", today),
    )


def _volunteer(cells: _Cells, today: dt.date) -> VolunteerRecord:
    if cells.raw("phone") is None:
        cells.fail("phone", MissingValue())
    return VolunteerRecord(
        name=cells.required("name", 100),
        phone=cells.phone("phone") or "",
        kind=cells.choice("kind", _VOLUNTEER_KIND, BadVolunteerKind),
        is_core=cells.choice("is_core", _YES_NO, BadYesNo),
        telegram_id=cells.number("telegram_id"),
    )


def _child_keys(record: ChildRecord) -> list[tuple[Any, ...]]:
    """Rows with different IDs are different children, even of the same name and birthday."""
    if record.ids:
        return [("id", key) for key in record.ids]
    return [("natural", record.name, record.birth_date, record.school)]


def _volunteer_keys(record: VolunteerRecord) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = [("phone", record.phone)]
    if record.telegram_id:
        keys.append(("telegram", record.telegram_id))
    return keys


@dataclass(frozen=True)
class _Kind(Generic[R]):
    columns: dict[str, str]
    read: Callable[[_Cells, dt.date], R]
    keys: Callable[[R], list[tuple[Any, ...]]]


_KINDS: dict[ImportKind, _Kind[Any]] = {
    ImportKind.children: _Kind(CHILD_COLUMNS, _child, _child_keys),
    ImportKind.volunteers: _Kind(VOLUNTEER_COLUMNS, _volunteer, _volunteer_keys),
}


def parse(kind: ImportKind, rows: Sequence[Row], *, today: dt.date) -> ParsedSheet[Any]:
    """Every row read through the header; problems listed with row and column, never raised."""
    spec = _KINDS[kind]
    header_index, positions = find_header(rows, spec.columns, kind)
    header_row = rows[header_index]
    header = tuple(_label(v) for v in header_row.values)
    data_rows = tuple(rows[header_index + 1 :])
    errors: list[RowError] = []
    records: list[tuple[int, Any]] = []
    first_row_of: dict[tuple[Any, ...], int] = {}
    for row in data_rows:
        cells = _Cells(row, positions, header, errors)
        record = spec.read(cells, today)
        if cells.failed:
            continue
        earlier = next((first_row_of[k] for k in spec.keys(record) if k in first_row_of), None)
        if earlier is not None:
            errors.append(RowError(row.number, None, DuplicateRow(row=earlier)))
            continue
        for key in spec.keys(record):
            first_row_of[key] = row.number
        records.append((row.number, record))
    place = {label: index for index, label in reversed(list(enumerate(header)))}
    errors.sort(key=lambda e: (e.row, place.get(e.column or "", -1)))  # as the eye reads
    return ParsedSheet(
        header_row=header_row.number,
        header=header,
        fields=frozenset(positions),
        rows=data_rows,
        records=tuple(records),
        errors=tuple(errors),
        above=tuple(rows[:header_index]),
    )


# ---------------------------------------------------------------- applying


@dataclass(frozen=True)
class ImportResult:
    kind: ImportKind
    site_id: int
    site_name: str
    sheet: ParsedSheet[Any]
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[RowError, ...] = ()
    file_name: str = ""  # as the clerk named it

    @property
    def applied(self) -> bool:
        return not self.errors


_CHILD_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "school",
    "grade",
    "class_name",
    "address",
    "priority",
    "guardianship",
    "study",
    "health",
    "personality",
    "interests",
)


def _guardian_records(child: Child) -> tuple[GuardianRecord, ...]:
    return tuple(
        GuardianRecord(g.name, g.relation, g.age, g.address, g.phone)
        for g in sorted(child.guardians, key=lambda g: g.id)
    )


def _parent_records(child: Child) -> tuple[ParentRecord, ...]:
    return tuple(
        ParentRecord(p.relation, p.work_place, p.phone)
        for p in sorted(child.parents, key=lambda p: p.id)
    )


def _apply_child(child: Child, record: ChildRecord, fields: frozenset[str]) -> bool:
    """Bring an archive in line with the sheet's columns; True when something changed."""
    changed = False
    present = {f for f in _CHILD_FIELDS if f in fields}
    if record.external_id and child.external_id != record.external_id:
        child.external_id = record.external_id
        changed = True
    for field in present:
        if getattr(child, field) != getattr(record, field):
            setattr(child, field, getattr(record, field))
            changed = True
    entrusted = child.guardianship is Guardianship.entrusted
    if fields & _GUARDIAN_FIELDS and (
        _guardian_records(child) != record.guardians
        or any(g.entrusted != entrusted for g in child.guardians)
    ):
        signed = {g.name: g.letter_signed_on for g in child.guardians}
        child.guardians = [
            Guardian(
                **dataclasses.asdict(g), entrusted=entrusted, letter_signed_on=signed.get(g.name)
            )
            for g in record.guardians
        ]
        changed = True
    if "guardian_letter" in fields and entrusted and record.letter_signed_on is not None:
        for guardian in child.guardians:  # a blank cell keeps what was recorded
            if guardian.entrusted and guardian.letter_signed_on != record.letter_signed_on:
                guardian.letter_signed_on = record.letter_signed_on
                changed = True
    if fields & _PARENT_FIELDS and _parent_records(child) != record.parents:
        child.parents = [Parent(**dataclasses.asdict(p)) for p in record.parents]
        changed = True
    return changed


def _natural_key(fields: frozenset[str]) -> Callable[[Child | ChildRecord], tuple[Any, ...]]:
    """Name + birth date + school, of those the sheet has: a sheet without a school column
    still finds the children imported from one with it."""
    parts = ["name", *(f for f in ("birth_date", "school") if f in fields)]
    return lambda row: tuple(getattr(row, part) for part in parts)


def _id_kind(key: str) -> bool:
    return key.startswith("sfz-")  # an ID number's hash, or else the sheet's own number


def _other_child(record: ChildRecord, known: Child) -> bool:
    """Same name, birth date and school, but an ID of the same kind that differs: twins,
    or namesakes. A school number and an ID number are not compared: one sheet has the
    one, next year's the other."""
    theirs = known.external_id
    return theirs is not None and any(
        _id_kind(mine) == _id_kind(theirs) and mine != theirs for mine in record.ids
    )


async def _import_children(
    session: AsyncSession, site: Region, sheet: ParsedSheet[ChildRecord]
) -> tuple[int, int, int]:
    """Match each row with a child already in the site's archive — by the sheet's number
    or ID number, else by name, birth date and school — and update it; add the others.
    A child who had left and is on the new list is back in the programme; one whose data
    was erased is never matched."""
    existing = (
        await session.scalars(
            select(Child)
            .where(Child.site_id == site.id, Child.forgotten_at.is_(None))
            .options(selectinload(Child.guardians), selectinload(Child.parents))
            .order_by(Child.id)
        )
    ).all()
    by_id = {c.external_id: c for c in existing if c.external_id}
    key = _natural_key(sheet.fields)
    by_key: dict[tuple[Any, ...], Child] = {}
    for known in existing:
        by_key.setdefault(key(known), known)
    updated = unchanged = 0
    matched: set[int] = set()
    new: list[ChildRecord] = []
    for _number, record in sheet.records:
        child = next((by_id[k] for k in record.ids if k in by_id), None)
        if child is None:
            candidate = by_key.get(key(record))
            if candidate is not None and not _other_child(record, candidate):
                child = candidate
        if child is None or child.id in matched:
            new.append(record)
            continue
        matched.add(child.id)
        returned = child.left_at is not None
        if returned:
            child.left_at = child.left_reason = None
        if _apply_child(child, record, sheet.fields) or returned:
            updated += 1
        else:
            unchanged += 1
    await session.flush()
    await _insert_children(session, site, new, sheet.fields)
    return len(new), updated, unchanged


async def _insert_children(
    session: AsyncSession, site: Region, records: list[ChildRecord], fields: frozenset[str]
) -> None:
    """New archives in three set-based INSERTs: thousands of children arrive at once."""
    if not records:
        return
    columns = ["name", "priority", "guardianship", *(f for f in _CHILD_FIELDS if f in fields)]
    ids = (
        await session.scalars(
            insert(Child).returning(Child.id, sort_by_parameter_order=True),
            [
                {
                    "site_id": site.id,
                    "external_id": r.external_id,
                    **{column: getattr(r, column) for column in columns},
                }
                for r in records
            ],
        )
    ).all()
    guardians = [
        {
            "child_id": child_id,
            "entrusted": r.guardianship is Guardianship.entrusted,
            "letter_signed_on": (
                r.letter_signed_on if r.guardianship is Guardianship.entrusted else None
            ),
            **dataclasses.asdict(g),
        }
        for child_id, r in zip(ids, records, strict=True)
        for g in r.guardians
    ]
    parents = [
        {"child_id": child_id, **dataclasses.asdict(p)}
        for child_id, r in zip(ids, records, strict=True)
        for p in r.parents
    ]
    if guardians:
        await session.execute(insert(Guardian), guardians)
    if parents:
        await session.execute(insert(Parent), parents)


async def _import_volunteers(
    session: AsyncSession, site: Region, sheet: ParsedSheet[VolunteerRecord]
) -> tuple[int, int, int]:
    """A volunteer is a person (found by Telegram ID, else by phone) serving at the site."""
    records = [record for _, record in sheet.records]
    telegram_ids = {str(r.telegram_id) for r in records if r.telegram_id}
    rows = (
        await session.execute(
            select(Person, Account.external_id)
            .outerjoin(
                Account, and_(Account.person_id == Person.id, Account.channel == Channel.telegram)
            )
            .where(
                or_(
                    Person.phone.in_({r.phone for r in records}),
                    Account.external_id.in_(telegram_ids),
                )
            )
        )
    ).all()
    people = [person for person, _ in rows]
    volunteers = {
        v.person_id: v
        for v in await session.scalars(
            select(Volunteer).where(
                Volunteer.site_id == site.id,
                Volunteer.removed_at.is_(None),
                Volunteer.person_id.in_([p.id for p in people]),
            )
        )
    }
    by_telegram = {telegram: person for person, telegram in rows if telegram}
    on_telegram = {person.id for person in by_telegram.values()}
    by_phone: dict[str, list[Person]] = {}
    for person in people:
        if person.phone:
            by_phone.setdefault(person.phone, []).append(person)
    added = updated = unchanged = 0
    for record in records:
        same_phone = by_phone.get(record.phone, [])
        telegram = str(record.telegram_id) if record.telegram_id else None
        person = (
            (by_telegram.get(telegram) if telegram else None)
            or next((p for p in same_phone if p.id in volunteers), None)
            or (same_phone[0] if len(same_phone) == 1 else None)
            or Person(name=record.name, phone=record.phone)
        )
        session.add(person)
        volunteer = volunteers.get(person.id) if person.id else None
        person_changed = _set(person, name=record.name, phone=record.phone)
        if telegram and person.id not in on_telegram:  # a new person's id is None
            session.add(Account(person=person, channel=Channel.telegram, external_id=telegram))
            person_changed = True
        if volunteer is None:
            session.add(
                Volunteer(
                    person=person,
                    site_id=site.id,
                    kind=record.kind or VolunteerKind.surrogate,
                    is_core=bool(record.is_core),
                )
            )
            added += 1
        elif _set(volunteer, kind=record.kind, is_core=record.is_core) or person_changed:
            updated += 1
        else:
            unchanged += 1
    await session.flush()
    return added, updated, unchanged


def _set(row: object, **values: Any) -> bool:
    """Set the values that differ (None leaves a value as it is); True when one did."""
    changed = False
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def import_archive(
    session: AsyncSession,
    *,
    kind: ImportKind,
    site_id: int,
    data: bytes,
    file_name: str,
    scope_paths: Sequence[str] | None,
    actor_id: int | None,
    at: dt.datetime,
    limits: SheetLimits = DEFAULT_LIMITS,
) -> ImportResult:
    """Read a sheet and apply it to a site, all or nothing.

    `scope_paths` are the coordinator's scopes (None: the operator's command line). With
    any bad row nothing is written except the audit entry, and the result lists them. The
    sheet is read and checked in a thread: the event loop serves others meanwhile.
    """
    site = await session.get(Region, site_id)
    if site is None:
        raise NotASite(code=str(site_id))
    regions.require_within(site, scope_paths)
    if not site.kind.is_site:
        raise NotASite(code=site.code)
    sheet = await asyncio.to_thread(_read_sheet, kind, data, file_name, limits, at.date())
    result = ImportResult(kind, site.id, site.name, sheet, errors=sheet.errors, file_name=file_name)
    if not sheet.errors:
        apply = _import_children if kind is ImportKind.children else _import_volunteers
        added, updated, unchanged = await apply(session, site, sheet)
        result = dataclasses.replace(result, added=added, updated=updated, unchanged=unchanged)
    audit.record(
        session,
        at=at,
        action="archive.import" if result.applied else "archive.import.rejected",
        actor_id=actor_id,
        subject_type="region",
        subject_id=site.id,
        details={
            "kind": kind.value,
            "rows": len(sheet.records),
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "bad_rows": len({e.row for e in result.errors}),
        },
    )
    return result


# The fill of a cell to fix in the sheet sent back: a soft red a printer still shows.
FIX_FILL = "FFF4CCCC"
ERRORS_SHOWN = 50  # a report lists this many problems; the sheet sent back has them all
# Bad cells get a comment up to this many (the fill and the 错误原因 column mark them all):
# a comment costs openpyxl ~6 KB of memory while the file is written.
MAX_COMMENTS = 1_000


def _read_sheet(
    kind: ImportKind, data: bytes, file_name: str, limits: SheetLimits, today: dt.date
) -> ParsedSheet[Any]:
    """The sheet read within `limits`, its header looked for before the rest is read."""
    columns = _KINDS[kind].columns
    rows = read_rows(
        data,
        file_name,
        limits=limits,
        check_head=lambda head: find_header(head, columns, kind),
        head_rows=HEADER_SEARCH_ROWS,
    )
    return parse(kind, rows, today=today)


def bad_rows_workbook(result: ImportResult, gettext: Callable[[str], str]) -> bytes:
    """The whole sheet back as the clerk sent it, every row at its own row number, with a
    `错误原因` column and each bad cell filled and commented: fix it and send it again.

    Nothing was imported, so the good rows come back too: the corrected sheet is the one
    to send.
    """
    from openpyxl import Workbook  # openpyxl loads only when a sheet is written
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = result.sheet
    problems: dict[int, list[str]] = {}
    cells: dict[tuple[int, int], list[str]] = {}
    position = {label: index for index, label in reversed(list(enumerate(sheet.header)))}
    for error, (number, text) in zip(
        result.errors, describe_errors(result.errors, gettext, with_row=False), strict=True
    ):
        problems.setdefault(number, []).append(text)
        if error.column is not None and error.column in position:
            problem = gettext(error.problem.message).format(**error.problem.params)
            cells.setdefault((number, position[error.column] + 1), []).append(problem)

    # write-only: thousands of rows and comments stream out instead of sitting in memory
    workbook = Workbook(write_only=True)
    out = workbook.create_sheet(gettext("Rows to fix")[:31])
    width = len(sheet.header)
    reason_column = width + 1
    out.column_dimensions[get_column_letter(reason_column)].width = 60
    out.freeze_panes = f"A{sheet.header_row + 1}"
    fill = PatternFill(fill_type="solid", start_color=FIX_FILL, end_color=FIX_FILL)
    bold = Font(bold=True)
    author = gettext("Import check")
    read = {row.number: row.values[:width] or row.values for row in (*sheet.above, *sheet.rows)}
    read[sheet.header_row] = sheet.header
    for column in range(width):  # wide enough to read what is in it, as a clerk would set it
        cells_text = (
            _shown(values[column])
            for values in (sheet.header, *(r.values for r in sheet.rows))
            if column < len(values)
        )
        widest = max((_display_width(t) for t in cells_text), default=8)
        out.column_dimensions[get_column_letter(column + 1)].width = min(max(widest + 2, 6), 40)
    comments = 0
    for number in range(1, max(read) + 1):
        line: list[Any] = []
        for column, value in enumerate(read.get(number, ()), start=1):
            cell = WriteOnlyCell(out, value=None if value == "" else value)
            if number == sheet.header_row:
                cell.font = bold
            elif isinstance(value, dt.datetime) and value.time() == dt.time():
                cell.number_format = "yyyy-mm-dd"
            if (found := cells.get((number, column))) is not None:
                cell.fill = fill
                if comments < MAX_COMMENTS:
                    cell.comment = Comment("\n".join(found), author, width=240, height=80)
                    comments += 1
            line.append(cell)
        if number == sheet.header_row or number in problems:
            line += [WriteOnlyCell(out) for _ in range(reason_column - 1 - len(line))]
            if number == sheet.header_row:
                reason = WriteOnlyCell(out, value=gettext("Reason for the error"))
                reason.font = Font(bold=True, color="FFC00000")
            else:
                reason = WriteOnlyCell(out, value="；".join(problems[number]))
                reason.fill = fill
            line.append(reason)
        out.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return "2015-03-02"
    return "" if value is None else str(value)


def _display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character is two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fix_file_name(file_name: str, gettext: Callable[[str], str]) -> str:
    """名单.csv → 名单-待修改.xlsx: the sheet sent back is always an Excel workbook."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    suffix = gettext("to fix")
    return f"{stem}-{suffix}.xlsx"


def error_report(
    result: ImportResult, gettext: Callable[[str], str], *, shown: int = ERRORS_SHOWN
) -> list[str]:
    """The lines of a refused import: how many rows, the first problems, how many more."""
    lines = [line for _row, line in describe_errors(result.errors[:shown], gettext)]
    report = [
        gettext("Nothing was imported: {rows} rows need fixing.").format(
            rows=len({error.row for error in result.errors})
        ),
        *lines,
    ]
    if len(result.errors) > shown:
        report.append(
            gettext("…and {more} more problems, {total} in all.").format(
                more=len(result.errors) - shown, total=len(result.errors)
            )
        )
    return report


def describe_errors(
    errors: Iterable[RowError], gettext: Callable[[str], str], *, with_row: bool = True
) -> list[tuple[int, str]]:
    """Each problem as one line in the reader's language, with its row number."""
    lines = []
    for error in errors:
        problem = gettext(error.problem.message).format(**error.problem.params)
        if error.column and with_row:
            text = gettext("Row {row}, {column}: {problem}").format(
                row=error.row, column=error.column, problem=problem
            )
        elif error.column:
            text = gettext("{column}: {problem}").format(column=error.column, problem=problem)
        elif with_row:
            text = gettext("Row {row}: {problem}").format(row=error.row, problem=problem)
        else:
            text = problem
        lines.append((error.row, text))
    return lines
