"""The robots' outbox sender: drains the `robot` channel's rows, each a message for one
robot, as the region's coordinators were told it, with the actions as words, who is
responsible and their phone, and the files where the platform takes them.

Several lanes send at once, each one row at a time, so a slow robot holds up one lane,
never Telegram (its own sender) nor the other robots. A message that needs several
requests (parts, files) keeps how many went in its row (`outbox.set_front_data`): the
pace or a throttle answer defers the rest, which is sent later, never twice. A
permanent refusal marks the robot broken and tells its region's coordinators in chat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.robots.deliver import RobotSender
from bot.robots.platforms import Outcome
from bot.robots.render import Attachment, Notice
from domain import language
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import outbox, robots
from domain.delivery.content import Content
from domain.delivery.messaging import Outgoing, Recipient
from domain.delivery.sending import DRAIN_BUDGET
from domain.kinds import RobotKind
from domain.models import Child, OutboxMessage, Region, Robot
from domain.ports import DrainReport

log = logging.getLogger(__name__)

_Robots = dict[int, tuple[Robot | None, tuple[str, ...]]]  # a drain's robots, by id


def _(msgid: str) -> str:
    """Marks a message id for the catalogue; translated where it is said."""
    return msgid


LANES = 4  # rows in flight at once, each to a different robot (8 contended more, bench)
RATE = 50.0  # claims a second across the channel: far above 50 robots' 20 a minute
ACT_IN = _("In Telegram: {actions}")
BROKEN = _(
    "⚠️ The {kind} robot {id} of {region} was refused by its platform ({reason}); nothing "
    "more goes to that group until it is fixed and tested (guanai robots test {id})."
)


def notice_of(
    content: Content,
    front: Mapping[str, Any],
    media_dir: Path,
    child_names: tuple[str, ...] = (),
) -> Notice:
    """What a robot says: the message's first line as the title, the rest as lines, the
    actions as words, who is responsible, the files read from MEDIA_DIR."""
    blocks = [block.text for block in content.blocks]
    files = tuple(
        Attachment(
            name=str(file["name"]),
            data=(media_dir / str(file["path"])).read_bytes(),
            image=file["kind"] == "picture",
        )
        for file in front.get("files", ())
    )
    actions = tuple(
        _gettext(ACT_IN).format(actions=" · ".join(action.label for action in row))
        for row in content.actions
    )
    return Notice(
        title=blocks[0] if blocks else "",
        lines=tuple(blocks[1:]),
        actions=actions,
        responsible=front.get("responsible"),
        phone=front.get("phone"),
        mention=bool(front.get("mention")),
        child_names=child_names,
        files=files,
    )


def broken_message(to: Recipient, robot: Robot, region_name: str, reason: str) -> Outgoing:
    with language.speaking(to.language):
        text = language.gettext(BROKEN).format(
            kind=robot.kind.value, id=robot.id, region=region_name, reason=reason
        )
    return Outgoing(Content.lines([text]))


class RobotOutboxSender:
    """The `robot` channel's sender (a `domain.ports.OutboxSender`)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        media_dir: Path,
        bases: Mapping[RobotKind, str] | None = None,
        lanes: int = LANES,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._media_dir = media_dir
        self._bases = bases
        self._lanes = lanes
        self._http: ClientSession | None = None
        self._draining = asyncio.Lock()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _sender(self) -> RobotSender:
        if self._http is None:
            self._http = ClientSession()
        return RobotSender(self._http, self._sessionmaker, _gettext, bases=self._bases)

    async def drain(self, clock: Clock, *, budget: float = DRAIN_BUDGET) -> DrainReport:
        """Send what is due until nothing is or `budget` seconds have passed."""
        report = DrainReport()
        if self._draining.locked():
            return report
        async with self._draining:
            sender = self._sender()
            deadline = asyncio.get_running_loop().time() + budget
            cache: _Robots = {}
            await asyncio.gather(
                *(self._lane(sender, clock, report, deadline, cache) for _ in range(self._lanes))
            )
        return report

    async def _lane(
        self,
        sender: RobotSender,
        clock: Clock,
        report: DrainReport,
        deadline: float,
        cache: _Robots,
    ) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            async with UnitOfWork(self._sessionmaker) as uow:
                claim = await outbox.claim_next(
                    uow.session,
                    channel=robots.CHANNEL,
                    now=clock.now(),
                    rate=RATE,
                    private_interval=0.0,
                    group_interval=0.0,
                )
                row = claim.row
                if row is not None:
                    row = await self._first_slot(uow.session, row, clock, report, cache)
                await uow.commit()
            if row is not None:
                await self._send(sender, row, clock, report, cache)
            elif claim.row is None and claim.wait is None:
                return
            elif claim.row is None:
                await asyncio.sleep(min(claim.wait or 0.0, max(deadline - loop.time(), 0.0)))

    async def _first_slot(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        clock: Clock,
        report: DrainReport,
        cache: _Robots,
    ) -> OutboxMessage | None:
        """In the claim's transaction: the robot's pace slot for the row's next request,
        or the row deferred to when the robot may be written to again (None)."""
        robot, _names = await self._robot(session, robots.robot_id_of(outbox.address(row)), cache)
        if robot is None or robot.broken_at is not None:
            return row  # `_send` fails it
        try:
            wait = await robots.take_slot(session, robot.id, robots.LIMITS[robot.kind])
        except robots.UnknownRobot:  # removed since this drain read it
            cache[robot.id] = (None, ())
            return row
        if wait == dt.timedelta(0):
            return row
        report.deferred += 1
        await outbox.defer(session, row.id, until=clock.now() + wait, error="robot pace")
        return None

    async def _robot(
        self, session: AsyncSession, robot_id: int, cache: _Robots
    ) -> tuple[Robot | None, tuple[str, ...]]:
        """The robot and the children's names to mask for it, read once a drain (a drain
        is under a minute: a robot removed meanwhile answers "unknown" and breaks)."""
        if robot_id not in cache:
            robot = await session.get(Robot, robot_id)
            names = await _child_names(session, robot) if robot is not None else ()
            if robot is not None:
                session.expunge(robot)  # read after the unit of work: a plain row
            cache[robot_id] = (robot, names)
        return cache[robot_id]

    async def _send(
        self,
        sender: RobotSender,
        row: OutboxMessage,
        clock: Clock,
        report: DrainReport,
        cache: _Robots,
    ) -> None:
        robot_id = robots.robot_id_of(outbox.address(row))
        front = outbox.front_data(row)
        start = int(front.get("sent", 0))
        robot, names = cache[robot_id]  # read with the claim
        if robot is None or robot.broken_at is not None:
            async with UnitOfWork(self._sessionmaker) as uow:
                report.failed += 1
                await outbox.mark_failed(uow.session, row.id, error="the robot is gone or broken")
                await uow.commit()
            return
        try:
            notice = notice_of(outbox.content(row), front, self._media_dir, names)
            delivery = await sender.send(robot, notice, start=start, slot_taken=True)
        except Exception as error:  # a request may have left: never resent by itself
            log.warning("robot row %d may or may not have arrived: %s", row.id, type(error))
            async with UnitOfWork(self._sessionmaker) as uow:
                report.uncertain += 1
                await outbox.mark_uncertain(uow.session, row.id, error=type(error).__name__)
                await uow.commit()
            return
        answer = delivery.answer
        now = clock.now()
        async with UnitOfWork(self._sessionmaker) as uow:
            session = uow.session
            if delivery.sent != start:
                await outbox.set_front_data(session, row.id, {**front, "sent": delivery.sent})
            if delivery.wait > dt.timedelta(0):  # the pace or the platform: the rest later
                report.deferred += 1
                if answer is not None:
                    report.rate_limited += 1
                await outbox.defer(session, row.id, until=now + delivery.wait, error="robot pace")
            elif answer is None or answer.outcome is Outcome.ok:
                report.sent += 1
                await outbox.mark_sent(session, row.id, sent_ref=None, at=now)
            elif answer.outcome is Outcome.broken:
                report.failed += 1
                reason = f"{answer.code} {answer.words}"
                await outbox.mark_failed(session, row.id, error=reason)
                cache[robot.id] = (None, ())  # nothing more to it in this drain
                await robots.report_broken(
                    session,
                    robot.id,
                    reason=reason,
                    at=now,
                    say=lambda to, found, region: broken_message(to, found, region, reason),
                    media_dir=self._media_dir,
                )
            elif answer.outcome is Outcome.rejected:
                report.failed += 1
                await outbox.mark_failed(session, row.id, error=f"{answer.code} {answer.words}")
            else:
                report.uncertain += 1
                await outbox.mark_uncertain(session, row.id, error=answer.words)
            await uow.commit()


def _gettext(msgid: str) -> str:
    with language.speaking(robots.ROBOT_LANGUAGE):
        return language.gettext(msgid)


async def _child_names(session: AsyncSession, robot: Robot) -> tuple[str, ...]:
    """The names to mask in a robot's messages: the children within its region."""
    if not robot.mask_child_names:
        return ()
    region = await session.get(Region, robot.region_id)
    assert region is not None
    names = await session.scalars(
        select(Child.name)
        .join(Region, Region.id == Child.site_id)
        .where(Region.path.startswith(region.path, autoescape=True))
    )
    return tuple(names)
