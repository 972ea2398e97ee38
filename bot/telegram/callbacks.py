"""Typed callback data: buttons carry ids and enum actions, never meaning in strings."""

from __future__ import annotations

import enum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import AfterValidator, Field

from domain.archive.archive_import import ImportKind
from domain.care.checkins import MAX_DAYS_BACK, VisitQuestion
from domain.models import Activity, ConcernKind, LeaveReason, SampleOutcome

# A button's data can be forged. An id that no PostgreSQL integer holds, or a negative page,
# fails to unpack, so the filter does not match and the button is answered as stale.
Id = Annotated[int, Field(ge=0, le=2**31 - 1)]
Page = Annotated[int, Field(ge=0, le=100_000)]


def _month(value: int) -> int:
    if value and not 1 <= value % 100 <= 12:
        raise ValueError("not a month")
    return value


YearMonth = Annotated[int, Field(ge=0, le=999_912), AfterValidator(_month)]  # YYYYMM, or 0


class LanguageChoice(CallbackData, prefix="lang"):
    locale: str


class EscalationAct(enum.StrEnum):
    take = "take"  # 我来处理: acknowledge, stop the climb
    reassign = "reassign"  # 改派
    resolve = "resolve"  # 已解决, with a note


class EscalationAction(CallbackData, prefix="esc"):
    escalation_id: Id
    act: EscalationAct


class ImportWhat(CallbackData, prefix="imp"):
    kind: ImportKind


class ImportSite(CallbackData, prefix="impsite"):
    site_id: Id


class InviteFor(enum.StrEnum):
    """Whom an invitation is for: a kind of volunteer, or a coordinator of a place below."""

    wulao = "wulao"
    surrogate = "surrogate"
    teacher = "teacher"
    coordinator = "coordinator"


class InvitePlace(CallbackData, prefix="ivp"):
    """Browse the places of one's scope to invite for (region 0: one's own scopes)."""

    kind: InviteFor
    region_id: Id = 0
    page: Page = 0


class InviteMake(CallbackData, prefix="ivm"):
    kind: InviteFor
    region_id: Id


class InviteList(CallbackData, prefix="ivl"):
    page: Page = 0


class InviteRevoke(CallbackData, prefix="ivr"):
    invitation_id: Id


class ChildView(enum.StrEnum):
    pairing = "pairing"  # who is paired, and buttons to pair, move, end
    card = "card"  # the archive and recent check-ins
    photos = "photos"  # recent check-ins' photos
    review = "review"  # check-ins awaiting review
    home = "home"  # set where the child lives (for the location check)


class ChildOpen(CallbackData, prefix="ch"):
    child_id: Id
    view: ChildView


class VolunteerList(CallbackData, prefix="vl"):
    """Volunteers of the child's site to pair with, or to move the child to."""

    child_id: Id
    from_volunteer_id: Id = 0
    escalation_id: Id = 0
    page: Page = 0


class PairAct(enum.StrEnum):
    ask = "ask"  # show what will happen, with a confirm button
    confirm = "confirm"
    end_ask = "end_ask"
    end = "end"


class PairStep(CallbackData, prefix="pr"):
    act: PairAct
    child_id: Id
    volunteer_id: Id
    from_volunteer_id: Id = 0
    escalation_id: Id = 0


class LeaveStep(CallbackData, prefix="lv"):
    """Taking a child out of the programme: choose the reason, then confirm."""

    child_id: Id
    reason: LeaveReason | None = None
    confirmed: bool = False


class OverviewOf(CallbackData, prefix="ov"):
    region_id: Id
    page: Page = 0


class OverduePage(CallbackData, prefix="odp"):
    page: Page


class OverdueAct(enum.StrEnum):
    nudge = "nudge"  # message the volunteer
    reassign = "reassign"
    handled = "handled"


class OverdueRef(enum.StrEnum):
    """What `ref` of an overdue button is the id of."""

    pairing = "p"  # a missed month: with `month` as YYYYMM
    concern = "c"
    escalation = "e"


class OverdueAction(CallbackData, prefix="oda"):
    act: OverdueAct
    ref_kind: OverdueRef
    ref: Id
    month: YearMonth = 0


class ReviewAct(enum.StrEnum):
    approve = "approve"  # 通过
    question = "question"  # 询问
    reject = "reject"  # 退回
    answer = "answer"  # the volunteer answers the question


class ReviewAction(CallbackData, prefix="rv"):
    checkin_id: Id
    act: ReviewAct


class SampleAction(CallbackData, prefix="sm"):
    """What the phone call of the verification sample (回访抽查) found."""

    check_id: Id
    outcome: SampleOutcome


class JoinAct(enum.StrEnum):
    name = "name"  # use the name Telegram gave
    agree = "agree"
    decline = "decline"


class JoinStep(CallbackData, prefix="join"):
    act: JoinAct


class MyChildOpen(CallbackData, prefix="child"):
    """A volunteer opens their child's card; checked against the presser's pairings."""

    child_id: Id


class CheckInStart(CallbackData, prefix="ci"):
    child_id: Id


class ActivityToggle(CallbackData, prefix="cia"):
    activity: Activity


class CheckInAct(enum.StrEnum):
    next = "next"  # activities chosen
    no_photos = "nophoto"
    earlier = "earlier"  # show more back-dating choices
    cancel = "cancel"
    resume = "resume"  # go on with a check-in a command interrupted
    discard = "discard"  # … or drop it
    unsure = "unsure"  # the volunteer is not sure of it: the coordinator takes a look


class CheckInStep(CallbackData, prefix="cis"):
    act: CheckInAct


class VisitAnswer(CallbackData, prefix="ciq"):
    question: VisitQuestion
    answer: str


class CheckInWhen(CallbackData, prefix="ciw"):
    days_back: Annotated[int, Field(ge=0, le=MAX_DAYS_BACK)]


class CheckInConfirm(CallbackData, prefix="cic"):
    """Carries the conversation's idempotency key, so a second press finds the first."""

    key: str


class ConcernStart(CallbackData, prefix="cn"):
    child_id: Id


class ConcernChoice(CallbackData, prefix="cnk"):
    kind: ConcernKind


class ConcernSkipNote(CallbackData, prefix="cnn"):
    pass


class DutySite(CallbackData, prefix="dty"):
    """值班: a site's rota (site 0: choose among the sites of one's scope)."""

    site_id: int = 0
    page: int = 0


class DutyDay(CallbackData, prefix="dtd"):
    site_id: int
    weekday: int


class DutySet(CallbackData, prefix="dts"):
    site_id: int
    weekday: int
    volunteer_id: int = 0  # 0: nobody on duty that day


class EmergencyStart(CallbackData, prefix="em"):
    child_id: Id


class EmergencyChoice(CallbackData, prefix="emk"):
    what: str  # an incident ("dropout", …) or a must-visit ("visit-mood", …)


class EmergencySkipNote(CallbackData, prefix="emn"):
    pass


class IncidentPage(CallbackData, prefix="inc"):
    escalation_id: Id


class IncidentRecord(CallbackData, prefix="inr"):
    escalation_id: Id
    step: str  # a `domain.care.emergencies.StepKind`


class LetterSigned(CallbackData, prefix="ltr"):
    child_id: Id
