"""A message's requests sent to one robot in order, under the robot's shared pace.

`deliver` never waits: when the pace or the platform says "not now" it stops and says
how many requests went and how long to wait, so the caller (the outbox's sender) keeps
the rest for later, loses none and sends none twice, and a slow robot holds up nothing
else. A `broken` answer is the caller's to record (`domain.delivery.robots.mark_broken`)
and to tell the region's coordinators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import ClientSession
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.robots.client import Address, RobotClient
from bot.robots.platforms import Answer, Outcome, Request
from bot.robots.render import Gettext, Group, Notice, requests
from domain.db import UnitOfWork
from domain.delivery import robots
from domain.kinds import RobotKind
from domain.models import Robot


class Pace(Protocol):
    async def take(self, robot_id: int, kind: RobotKind) -> dt.timedelta:
        """Zero when a request may leave now (the slot is taken), else how long to wait."""
        ...

    async def hold(self, robot_id: int, for_: dt.timedelta) -> None:
        """Take no slot for this robot for this long."""
        ...


class SharedPace:
    """The pace in PostgreSQL (`robot_pace`): every sender process keeps the same one."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def take(self, robot_id: int, kind: RobotKind) -> dt.timedelta:
        async with UnitOfWork(self._sessionmaker) as uow:
            wait = await robots.take_slot(uow.session, robot_id, robots.LIMITS[kind])
            await uow.commit()
        return wait

    async def hold(self, robot_id: int, for_: dt.timedelta) -> None:
        async with UnitOfWork(self._sessionmaker) as uow:
            await robots.hold(uow.session, robot_id, for_)
            await uow.commit()


@dataclass(frozen=True)
class Delivery:
    sent: int  # how many of the requests are in the group now (from the start)
    answer: Answer | None  # the last answer read; None when the pace stopped it first
    wait: dt.timedelta = dt.timedelta(0)  # when to try the rest


def address(robot: Robot) -> Address:
    return Address(kind=robot.kind, url=robot.url, secret=robot.secret)


def group(robot: Robot) -> Group:
    return Group(
        kind=robot.kind, mobiles=tuple(robot.mobiles), mask_child_names=robot.mask_child_names
    )


async def deliver(
    client: RobotClient,
    pace: Pace,
    robot_id: int,
    to: Address,
    requests: Sequence[Request],
    *,
    start: int = 0,
) -> Delivery:
    """Send `requests[start:]` in order; stop at the first that the pace or the platform
    does not take. `Delivery.sent` is where to start next time."""
    answer: Answer | None = None
    for index in range(start, len(requests)):
        wait = await pace.take(robot_id, to.kind)
        if wait > dt.timedelta(0):
            return Delivery(sent=index, answer=None, wait=wait)
        answer = await client.send(to, requests[index])
        if answer.outcome is Outcome.throttled:
            await pace.hold(robot_id, answer.retry_after)
            return Delivery(sent=index, answer=answer, wait=answer.retry_after)
        if answer.outcome is not Outcome.ok:
            return Delivery(sent=index, answer=answer)
    return Delivery(sent=len(requests), answer=answer)


class RobotSender:
    """What the outbox's sender calls for a robot: render a notice for it and deliver it
    from `start`, under the shared pace, over one HTTP session."""

    def __init__(
        self,
        http: ClientSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        gettext: Gettext,
        *,
        bases: Mapping[RobotKind, str] | None = None,
    ) -> None:
        self._client = RobotClient(http, bases=bases)
        self._pace = SharedPace(sessionmaker)
        self._gettext = gettext

    async def send(
        self, robot: Robot, notice: Notice, *, start: int = 0, slot_taken: bool = False
    ) -> Delivery:
        """`Delivery.sent` is where to start next time; the same notice to the same robot
        renders to the same requests, so a later call goes on where this one stopped.
        `slot_taken`: the caller took the first request's slot (with its claim)."""
        sent = requests(notice, group(robot), self._gettext)
        pace: Pace = _FirstTaken(self._pace) if slot_taken else self._pace
        return await deliver(self._client, pace, robot.id, address(robot), sent, start=start)


class _FirstTaken:
    """A pace whose first slot is already taken."""

    def __init__(self, pace: Pace) -> None:
        self._pace = pace
        self._taken = True

    async def take(self, robot_id: int, kind: RobotKind) -> dt.timedelta:
        if self._taken:
            self._taken = False
            return dt.timedelta(0)
        return await self._pace.take(robot_id, kind)

    async def hold(self, robot_id: int, for_: dt.timedelta) -> None:
        await self._pace.hold(robot_id, for_)
