"""The care rules: back-dating a check-in, the home visit's answers, emergencies' steps as
typed, the entrusted guardian, photos that resemble, the duty rota."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.care.checkins import (
    CLOSES_CONCERNS,
    MAX_DAYS_BACK,
    VISIT_ANSWERS,
    VisitQuestion,
    check_answers,
    occurred_at,
)
from domain.care.duty import days_in_week, merged
from domain.care.emergencies import (
    CLOSING,
    FITTING,
    Incident,
    StepKind,
    parse_day,
    parse_guardian,
    parse_step,
)
from domain.care.pairings import role_for
from domain.care.photos import Resemblance, _fitted, _within, resemblances
from domain.errors import BadVisitAnswer, TooFarBack
from domain.models import Activity, PairingRole, VolunteerKind

NOW = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 16)

# check-ins -------------------------------------------------------------------------------


@pytest.mark.parametrize("days_back", [0, 1, 2, MAX_DAYS_BACK])
def test_a_visit_may_be_recorded_up_to_a_week_later(days_back: int) -> None:
    assert occurred_at(NOW, days_back) == NOW - dt.timedelta(days=days_back)


@pytest.mark.parametrize("days_back", [-1, MAX_DAYS_BACK + 1, 30])
def test_further_back_or_in_the_future_is_refused(days_back: int) -> None:
    with pytest.raises(TooFarBack):
        occurred_at(NOW, days_back)


def test_every_one_tap_answer_of_a_home_visit_is_accepted() -> None:
    for question, answers in VISIT_ANSWERS.items():
        for answer in answers:
            check_answers({question.value: answer})
    check_answers(None)
    check_answers({})


@pytest.mark.parametrize(
    "answers",
    [
        {"meals": "maybe"},  # not one of the buttons
        {"weather": "yes"},  # not a question
        {"meals": "yes", "picky": "often"},  # another question's answer
    ],
)
def test_a_forged_answer_is_refused(answers: dict[str, str]) -> None:
    with pytest.raises(BadVisitAnswer):
        check_answers(answers)


def test_a_home_visit_asks_the_five_questions_of_domain_md() -> None:
    assert set(VisitQuestion) == set(VISIT_ANSWERS)
    assert len(VISIT_ANSWERS) == 5


def test_a_visit_or_a_talk_answers_a_must_visit() -> None:
    assert {Activity.home_visit, Activity.talk} == CLOSES_CONCERNS
    assert Activity.homework_check not in CLOSES_CONCERNS


# emergencies' steps, as typed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "day"),
    [
        ("11月20日", dt.date(2026, 11, 20)),
        ("11/2", dt.date(2026, 11, 2)),
        ("11.2", dt.date(2026, 11, 2)),
        ("2026年11月3号", dt.date(2026, 11, 3)),
        ("今天", TODAY),
        ("昨天", dt.date(2026, 11, 15)),
        ("前天", dt.date(2026, 11, 14)),
    ],
)
def test_the_days_people_type(words: str, day: dt.date) -> None:
    assert parse_day(words, today=TODAY) == day


def test_december_typed_in_january_is_last_december() -> None:
    assert parse_day("12月30日", today=dt.date(2027, 1, 3)) == dt.date(2026, 12, 30)


@pytest.mark.parametrize("words", ["下周", "孩子已回家", "下个月再说"])
def test_words_naming_no_day_give_none(words: str) -> None:
    assert parse_day(words, today=TODAY) is None


def test_persuasion_says_who_went_and_what_came_of_it() -> None:
    fields = parse_step(StepKind.persuasion, "王老师 11月10日 家长同意下周返校", today=TODAY)
    assert fields == {
        "on_day": dt.date(2026, 11, 10),
        "by_whom": "王老师",
        "note": "家长同意下周返校",
    }


def test_found_says_where() -> None:
    fields = parse_step(StepKind.found, "昨天 在县城网吧", today=TODAY)
    assert fields["on_day"] == dt.date(2026, 11, 15)
    assert fields["place"] == "在县城网吧"


def test_a_step_without_a_day_happened_today() -> None:
    assert parse_step(StepKind.note, "  已联系家长   ", today=TODAY) == {
        "on_day": TODAY,
        "note": "已联系家长",
    }


@pytest.mark.parametrize(
    ("words", "name", "relation", "phone", "signed"),
    [
        (
            "李桂兰 姑姑 13800000003 11月20日",
            "李桂兰",
            "姑姑",
            "13800000003",
            dt.date(2026, 11, 20),
        ),
        ("李桂兰，姑姑，13800000003", "李桂兰", "姑姑", "13800000003", None),
        ("张明 13800000003 今天 签订", "张明", None, "13800000003", TODAY),
        ("张明", "张明", None, None, None),
    ],
)
def test_an_entrusted_guardian_as_typed(
    words: str, name: str, relation: str | None, phone: str | None, signed: dt.date | None
) -> None:
    guardian = parse_guardian(words, today=TODAY)
    assert guardian is not None
    assert (guardian.name, guardian.relation, guardian.phone, guardian.letter_signed_on) == (
        name,
        relation,
        phone,
        signed,
    )


def test_an_entrusted_guardian_needs_a_name() -> None:
    assert parse_guardian("13800000003 11月20日", today=TODAY) is None


@pytest.mark.parametrize(
    ("incident", "step"),
    [
        (Incident.dropout, StepKind.returned),  # 劝返复学
        (Incident.missing, StepKind.found),
        (Incident.missing, StepKind.police),
        (Incident.unsupervised, StepKind.guardian),  # an entrusted guardian named
    ],
)
def test_the_steps_that_close_each_incident(incident: Incident, step: StepKind) -> None:
    assert step in FITTING[incident]
    assert step in CLOSING


def test_persuasion_does_not_close_a_drop_out() -> None:
    assert StepKind.persuasion in FITTING[Incident.dropout]
    assert StepKind.persuasion not in CLOSING


# photos that resemble ---------------------------------------------------------------------------


def test_a_new_photo_like_an_earlier_ones_flags_its_own_check_in() -> None:
    assert resemblances(50, 9, [(40, 7, 3)]) == [Resemblance(9, 50, 7, 40, 3)]


def test_a_late_photo_like_a_later_check_ins_flags_the_later_one() -> None:
    # a download retried after a later check-in's photo was stored
    assert resemblances(50, 9, [(60, 12, 2)]) == [Resemblance(12, 60, 9, 50, 2)]


def test_a_check_in_is_flagged_once_beside_the_nearest_photo() -> None:
    found = resemblances(50, 9, [(40, 7, 1), (41, 8, 4), (60, 12, 5)])
    assert found == [Resemblance(9, 50, 7, 40, 1), Resemblance(12, 60, 9, 50, 5)]


def test_no_match_flags_nothing() -> None:
    assert resemblances(50, 9, []) == []


@pytest.mark.parametrize(("radius", "count"), [(0, 1), (1, 17), (2, 1 + 16 + 120)])
def test_the_values_a_hash_quarter_may_take_within_a_radius(radius: int, count: int) -> None:
    values = _within(0b1010, radius)
    assert len(values) == len(set(values)) == count
    assert all(bin(v ^ 0b1010).count("1") <= radius for v in values)


@pytest.mark.parametrize(
    ("size", "stored"),
    [
        ((1280, 960), (1280, 960)),  # small enough
        ((5120, 3840), (2560, 1920)),  # halved, shape kept
        ((3000, 6000), (1280, 2560)),  # portrait
        ((100000, 10), (2560, 1)),  # never zero
    ],
)
def test_a_stored_photo_is_at_most_2560_long(
    size: tuple[int, int], stored: tuple[int, int]
) -> None:
    assert _fitted(*size) == stored


# the duty rota --------------------------------------------------------------------------------

MONDAY = dt.date(2026, 11, 16)


def test_duty_days_of_the_week_from_the_rota() -> None:
    rota = [(4, 7), (0, 7), (2, 8)]  # (weekday, volunteer): 0 is Monday
    assert days_in_week(MONDAY, rota) == {
        7: [dt.date(2026, 11, 16), dt.date(2026, 11, 20)],
        8: [dt.date(2026, 11, 18)],
    }


def test_a_week_across_months() -> None:
    assert days_in_week(dt.date(2026, 11, 30), [(6, 7)]) == {7: [dt.date(2026, 12, 6)]}


def test_rota_and_single_shifts_merge_each_date_once_in_order() -> None:
    rota = {7: [dt.date(2026, 11, 16), dt.date(2026, 11, 20)]}
    shifts = {7: [dt.date(2026, 11, 18), dt.date(2026, 11, 16)], 8: [dt.date(2026, 11, 19)]}
    assert merged(rota, shifts) == {
        7: [dt.date(2026, 11, 16), dt.date(2026, 11, 18), dt.date(2026, 11, 20)],
        8: [dt.date(2026, 11, 19)],
    }


# pairings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (VolunteerKind.surrogate, PairingRole.surrogate),  # 代理家长: counts for key children
        (VolunteerKind.wulao, PairingRole.mentor),
        (VolunteerKind.teacher, PairingRole.mentor),
    ],
)
def test_a_pairings_role_follows_the_volunteers_kind(
    kind: VolunteerKind, role: PairingRole
) -> None:
    assert role_for(kind) is role
