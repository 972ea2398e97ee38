"""The kinds the command line offers as choices: plain enums, light to import.

`guanai --help` must not load SQLAlchemy, so these live here; `domain.models` maps them
to columns and re-exports them, and code elsewhere imports them from either.
"""

from __future__ import annotations

import enum


class RegionKind(enum.StrEnum):
    district = "district"
    township = "township"
    school = "school"
    village = "village"
    community = "community"

    @property
    def is_site(self) -> bool:
        """Schools, villages and communities hold children; the levels above only lead."""
        return self in (RegionKind.school, RegionKind.village, RegionKind.community)


class VolunteerKind(enum.StrEnum):
    wulao = "wulao"  # “五老”: old cadres, veterans, experts, teachers, model workers
    surrogate = "surrogate"  # 代理家长 / 爱心妈妈
    teacher = "teacher"


class InvitationRole(enum.StrEnum):
    volunteer = "volunteer"
    coordinator = "coordinator"


class RobotKind(enum.StrEnum):
    """The work apps whose groups take a custom robot (a webhook): the offices read them."""

    wecom = "wecom"  # 企业微信
    dingtalk = "dingtalk"  # 钉钉
    feishu = "feishu"  # 飞书


class Channel(enum.StrEnum):
    """Where a person is reached: a chat network the bot speaks on. One person may have
    an account on each; stored as text, so a new channel needs no DDL."""

    telegram = "telegram"
    matrix = "matrix"


class LeaveReason(enum.StrEnum):
    """Why a child was taken out of the programme."""

    finished_school = "finished_school"  # left primary (or the school the site serves)
    moved_away = "moved_away"
    parents_returned = "parents_returned"  # no longer left behind
    other = "other"
