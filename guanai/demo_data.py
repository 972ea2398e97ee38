"""`guanai demo-data`: a synthetic district to try guanai on and to measure it with.

A district, ~10 townships, ~300 schools, villages and communities, children with their
archives (guardian and parents), volunteers, a surrogate parent for every key child and
mentors for many others, and months of check-ins. Seeded, so the same arguments make the
same district. Rows go in with bulk inserts, the check-ins with COPY.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import RegionExists
from domain.models import (
    Account,
    Activity,
    Channel,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    ConcernKind,
    Coordinator,
    Guardian,
    Guardianship,
    Pairing,
    PairingRole,
    Parent,
    Person,
    Priority,
    Region,
    RegionKind,
    Sex,
    Volunteer,
    VolunteerKind,
)
from domain.schedule.calendar import Month

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "明华强军平红芳丽娟敏静秀英霞燕玲桂兰伟刚勇毅俊峰磊涛浩宇轩杰欣怡佳雨晨阳子涵梓萱"
TOWNSHIPS = [
    "中和",
    "清溪",
    "龙凤",
    "石堤",
    "峨溶",
    "洪安",
    "溶溪",
    "雅江",
    "兰桥",
    "孝溪",
    "梅江",
    "隘口",
]
VILLAGE_WORDS = [
    "河坝",
    "坪上",
    "石门",
    "新寨",
    "大田",
    "岩口",
    "高桥",
    "白果",
    "凉水",
    "竹林",
    "茶园",
    "杨柳",
]
RELATIVES = ("祖父", "祖母", "外婆", "叔叔")
WORK_PLACES = ("广东东莞", "浙江义乌", "重庆")
KEY_SHARE = 0.3
MENTORED = (Activity.home_visit, Activity.parent_call)
MONTHLY = (
    Activity.talk,
    Activity.homework_check,
    Activity.tutoring,
    Activity.home_visit,
    Activity.family_meal,
    Activity.parent_call,
    Activity.family_call,
)
VISIT_ANSWERS = {
    "meals_on_time": ("按时", "有时不按时"),
    "picky_eater": ("不挑食", "有点挑食"),
    "income_enough": ("够用", "紧张"),
    "calls_parents": ("经常", "很少"),
    "homework_alone": ("自己完成", "要督促"),
}


@dataclass(frozen=True)
class DemoReport:
    sites: int
    children: int
    volunteers: int
    pairings: int
    checkins: int


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


async def _insert_ids(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk insert, returning the new ids in the order of `rows`."""
    if not rows:
        return []
    result = await session.scalars(
        insert(model).returning(model.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result)


async def _people_on_telegram(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, first_telegram_id: int
) -> list[int]:
    """People, each with a Telegram account, the ids one after another from the first."""
    people = await _insert_ids(session, Person, rows)
    await session.execute(
        insert(Account),
        [
            {"person_id": p, "channel": Channel.telegram, "external_id": str(first_telegram_id + i)}
            for i, p in enumerate(people)
        ],
    )
    return people


async def _reserve_ids(session: AsyncSession, table: str, count: int) -> int:
    """Take `count` ids of a table's sequence at once; returns the first."""
    sequence = f"pg_get_serial_sequence('{table}', 'id')"
    last = await session.scalar(
        text(f"SELECT setval({sequence}, nextval({sequence}) + :n - 1)"), {"n": count}
    )
    return int(last) - count + 1


async def _copy(
    session: AsyncSession, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    if not records:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table, records=records, columns=list(columns))


async def make_demo_district(
    session: AsyncSession,
    *,
    children: int,
    volunteers: int,
    months: int,
    now: dt.datetime,
    tz: ZoneInfo,
    seed: int = 1,
    code: str = "DEMO",
) -> DemoReport:
    """Build the district under `code`; refuses if that code exists."""
    if await session.scalar(select(Region.id).where(Region.code == code)) is not None:
        raise RegionExists(code=code)
    rng = random.Random(seed)
    n_sites = max(3, min(300, children // 117))
    n_townships = max(1, min(len(TOWNSHIPS), round(n_sites / 30)))

    # the region tree, with a coordinator at every node
    [district_id] = await _insert_ids(
        session, Region, [{"code": code, "name": "示范区", "kind": RegionKind.district, "path": ""}]
    )
    township_ids = await _insert_ids(
        session,
        Region,
        [
            {
                "code": f"{code}-T{t:02d}",
                "name": f"{TOWNSHIPS[t]}镇",
                "kind": RegionKind.township,
                "parent_id": district_id,
                "path": "",
            }
            for t in range(n_townships)
        ],
    )
    site_rows: list[dict[str, Any]] = []
    for s in range(n_sites):
        township = s % n_townships
        kind = (RegionKind.school, RegionKind.village, RegionKind.village, RegionKind.community)[
            s % 4 if s % 15 else 3
        ]
        place = TOWNSHIPS[township]
        name = {
            RegionKind.school: f"{place}第{s // n_townships + 1}小学",
            RegionKind.village: f"{place}{rng.choice(VILLAGE_WORDS)}{s // n_townships + 1}村",
            RegionKind.community: f"{place}{s // n_townships + 1}社区",
        }[kind]
        site_rows.append(
            {
                "code": f"{code}-S{s:03d}",
                "name": name,
                "kind": kind,
                "parent_id": township_ids[township],
                "path": "",
            }
        )
    site_ids = await _insert_ids(session, Region, site_rows)
    paths = {district_id: f"{district_id}/"}
    paths.update({t: f"{district_id}/{t}/" for t in township_ids})
    paths.update(
        {s: f"{paths[row['parent_id']]}{s}/" for s, row in zip(site_ids, site_rows, strict=True)}
    )
    await session.execute(update(Region), [{"id": i, "path": p} for i, p in paths.items()])
    heads = [district_id, *township_ids, *site_ids]
    telegram_base = 8_000_000_000 + seed * 10_000_000
    head_people = await _people_on_telegram(
        session,
        [{"name": _name(rng) + "老师", "language": "zh"} for _ in heads],
        first_telegram_id=telegram_base,
    )
    await session.execute(
        insert(Coordinator),
        [{"person_id": p, "region_id": r} for p, r in zip(head_people, heads, strict=True)],
    )

    # volunteers, spread over the sites
    start = Month.of(now, tz)
    for _ in range(months - 1):
        start = start.previous()
    joined = start.start(tz)
    people = await _people_on_telegram(
        session,
        [{"name": _name(rng), "language": "zh", "consented_at": joined} for _ in range(volunteers)],
        first_telegram_id=telegram_base + 100_000,
    )
    kinds = rng.choices(
        [VolunteerKind.surrogate, VolunteerKind.teacher, VolunteerKind.wulao],
        weights=[6, 2, 2],
        k=volunteers,
    )
    volunteer_rows: list[dict[str, Any]] = [
        {
            "person_id": p,
            "site_id": site_ids[i % n_sites],
            "kind": kinds[i],
            "is_core": rng.random() < 0.4,
            "joined_at": joined,
        }
        for i, p in enumerate(people)
    ]
    volunteer_ids = await _insert_ids(session, Volunteer, volunteer_rows)

    # children with their archives
    child_rows: list[dict[str, Any]] = []
    for i in range(children):
        birth = dt.date(now.year - rng.randint(6, 15), rng.randint(1, 12), rng.randint(1, 28))
        child_rows.append(
            {
                "site_id": site_ids[i % n_sites],
                "external_id": f"{code}-{i:06d}",
                "name": _name(rng),
                "sex": rng.choice((Sex.male, Sex.female)),
                "birth_date": birth,
                "grade": f"{min(6, max(1, now.year - birth.year - 6))}年级",
                "class_name": f"{rng.randint(1, 4)}班",
                "address": f"{site_rows[i % n_sites]['name']}{rng.randint(1, 12)}组",
                "priority": Priority.key if rng.random() < KEY_SHARE else Priority.normal,
                "guardianship": rng.choices(
                    [Guardianship.guardian, Guardianship.entrusted, Guardianship.none],
                    weights=[90, 8, 2],
                )[0],
            }
        )
    child_ids = await _insert_ids(session, Child, child_rows)
    await session.execute(
        insert(Guardian),
        [
            {
                "child_id": c,
                "name": _name(rng),
                "relation": rng.choice(RELATIVES),
                "age": rng.randint(55, 80),
                "phone": f"139{rng.randint(0, 99_999_999):08d}",
            }
            for c in child_ids
        ],
    )
    await session.execute(
        insert(Parent),
        [
            {
                "child_id": c,
                "relation": relation,
                "work_place": rng.choice(WORK_PLACES),
                "phone": f"138{rng.randint(0, 99_999_999):08d}",
            }
            for c in child_ids
            for relation in ("father", "mother")
            if rng.random() < 0.8
        ],
    )

    # pairings: a surrogate parent for every key child, mentors for a share of the others
    by_site: dict[int, dict[VolunteerKind, list[int]]] = {
        s: {kind: [] for kind in VolunteerKind} for s in site_ids
    }
    for volunteer_id, row in zip(volunteer_ids, volunteer_rows, strict=True):
        by_site[row["site_id"]][row["kind"]].append(volunteer_id)
    pairing_rows = []
    for child_id, row in zip(child_ids, child_rows, strict=True):
        pool = by_site[row["site_id"]]
        surrogates = pool[VolunteerKind.surrogate] or [v for vs in pool.values() for v in vs]
        if row["priority"] is Priority.key and surrogates:
            pairing_rows.append((rng.choice(surrogates), child_id, PairingRole.surrogate))
        elif rng.random() < 0.35:
            mentors = pool[VolunteerKind.teacher] + pool[VolunteerKind.wulao]
            if mentors:
                pairing_rows.append((rng.choice(mentors), child_id, PairingRole.mentor))
    pairing_ids = await _insert_ids(
        session,
        Pairing,
        [
            {"volunteer_id": v, "child_id": c, "role": role, "started_at": joined}
            for v, c, role in pairing_rows
        ],
    )

    # months of check-ins, most volunteers diligent, some not
    diligence = {v: rng.choice((0.95, 0.9, 0.8, 0.6, 0.2)) for v in volunteer_ids}
    checkins = 0
    month = start
    for _ in range(months):
        checkins += await _month_of_checkins(
            session,
            rng,
            month,
            now,
            tz,
            list(zip(pairing_ids, pairing_rows, strict=True)),
            diligence,
        )
        month = month.next()

    # a few must-visit concerns, most of them visited
    concern_rows = []
    for child_id in rng.sample(child_ids, k=min(len(child_ids), children // 100)):
        raised = now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 12))
        closed = rng.random() < 0.8 and raised + dt.timedelta(days=2) < now
        concern_rows.append(
            {
                "child_id": child_id,
                "kind": rng.choice(list(ConcernKind)),
                "raised_by": head_people[0],
                "raised_at": raised,
                "due_at": raised + dt.timedelta(days=3),
                "closed_at": raised + dt.timedelta(days=2) if closed else None,
            }
        )
    if concern_rows:
        await session.execute(insert(Concern), concern_rows)
    await session.execute(text("ANALYZE"))
    return DemoReport(len(site_ids), len(child_ids), len(volunteer_ids), len(pairing_ids), checkins)


def _days_of(month: Month, now: dt.datetime, tz: ZoneInfo) -> Iterator[dt.datetime]:
    """Afternoons of the month up to now."""
    day = month.start(tz).replace(hour=16)
    while day < month.end(tz) and day < now:
        yield day
        day += dt.timedelta(days=1)


async def _month_of_checkins(
    session: AsyncSession,
    rng: random.Random,
    month: Month,
    now: dt.datetime,
    tz: ZoneInfo,
    pairings: list[tuple[int, tuple[int, int, PairingRole]]],
    diligence: dict[int, float],
) -> int:
    days = list(_days_of(month, now, tz))
    if not days:
        return 0
    checkin_records: list[tuple[Any, ...]] = []
    activity_records: list[tuple[Any, ...]] = []
    planned = []
    for pairing_id, (volunteer_id, child_id, role) in pairings:
        if rng.random() > diligence[volunteer_id]:
            continue
        wanted = (
            MONTHLY
            if role is PairingRole.surrogate
            else (Activity.home_visit, Activity.parent_call)
        )
        done = [a for a in wanted if rng.random() < diligence[volunteer_id]]
        while done:
            visit, done = done[: rng.randint(1, 3)], done[3:]
            planned.append((pairing_id, volunteer_id, child_id, visit))
    first_id = await _reserve_ids(session, "checkins", len(planned)) if planned else 0
    for offset, (pairing_id, volunteer_id, child_id, visit) in enumerate(planned):
        checkin_id = first_id + offset
        at = rng.choice(days)
        answers = None
        if Activity.home_visit in visit:
            answers = {q: rng.choice(options) for q, options in VISIT_ANSWERS.items()}
        checkin_records.append(
            (
                checkin_id,
                pairing_id,
                child_id,
                volunteer_id,
                at,
                at,
                f"demo-{checkin_id}",
                None if answers is None else json.dumps(answers, ensure_ascii=False),
                "none",
            )
        )
        activity_records += [(checkin_id, a.value, pairing_id, at) for a in visit]
    await _copy(
        session,
        CheckIn.__tablename__,
        (
            "id",
            "pairing_id",
            "child_id",
            "volunteer_id",
            "occurred_at",
            "created_at",
            "idempotency_key",
            "visit_answers",
            "review",
        ),
        checkin_records,
    )
    await _copy(
        session,
        CheckInActivity.__tablename__,
        ("checkin_id", "activity", "pairing_id", "occurred_at"),
        activity_records,
    )
    return len(checkin_records)
