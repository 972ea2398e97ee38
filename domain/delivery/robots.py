"""Group robots: the WeCom, DingTalk and Feishu webhooks through which a region's offices,
who cannot read Telegram, hear what its coordinators hear.

A robot's URL (and secret) is a credential: whoever has it posts into the group. It is
checked against its platform when added, stored, and from then on only ever said masked
(`masked_url`); errors and the audit log name a robot by its id.

The pace of each robot is shared by every sender process in `robot_pace`, in the
database's clock: `take_slot` says whether a request may leave now (and takes the slot)
or how long to wait; `hold` keeps a robot quiet after its platform said "too fast".
The decisions are plain functions (`webhook`, `wait_for_slot`), tested without a database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery import outbox
from domain.delivery.addresses import Address
from domain.delivery.content import Action, Block, Content
from domain.delivery.messaging import Outgoing, Recipient, queue, recipients, store
from domain.errors import DomainError
from domain.kinds import RobotKind
from domain.models import Coordinator, Person, Region, Robot, RobotPace
from domain.people import audit, regions

# --- what a robot's webhook looks like ---------------------------------------------------


class NotThatPlatform(DomainError):
    message = "This is not a {kind} robot's webhook URL; it looks like {example}"


class NotARobot(DomainError):
    message = (
        "This is not a WeCom, DingTalk or Feishu robot's webhook URL; copy it whole from "
        "the group's robot settings."
    )


class NeedsSecret(DomainError):
    message = (
        "A {kind} robot needs its secret: turn on signing ({where}) and give it with --secret."
    )


class NoSecret(DomainError):
    message = "A WeCom robot has no secret: leave --secret out."


class BadSecret(DomainError):
    message = "A DingTalk robot's secret starts with SEC: copy it whole from 加签."


class BadMobile(DomainError):
    message = "{mobile} is not a mainland mobile number (11 digits, starting with 1)."


class RobotExists(DomainError):
    message = "This robot is already added, as robot {id}."


class UnknownRobot(DomainError):
    message = "No robot has the id {id}."


# the hosts, paths and the query key that names the robot, as each app hands them out
EXAMPLE = {
    RobotKind.wecom: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    RobotKind.dingtalk: "https://oapi.dingtalk.com/robot/send?access_token=…",
    RobotKind.feishu: "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}
SIGNING = {RobotKind.dingtalk: "安全设置 → 加签", RobotKind.feishu: "安全设置 → 签名校验"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")
_FEISHU_HOSTS = ("open.feishu.cn", "open.larksuite.com")


@dataclass(frozen=True)
class Webhook:
    """A robot's webhook as its app handed it out: the path to post to and the token."""

    kind: RobotKind
    host: str
    path: str  # e.g. /cgi-bin/webhook/send
    token: str  # key, access_token or the hook id: the credential itself

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.target}"

    @property
    def target(self) -> str:
        """Path and query, without the host: a client puts it after its platform's base URL
        (the real one, or a fake's in tests)."""
        if self.kind is RobotKind.wecom:
            return f"{self.path}?key={self.token}"
        if self.kind is RobotKind.dingtalk:
            return f"{self.path}?access_token={self.token}"
        return self.path


def webhook(kind: RobotKind, url: str) -> Webhook:
    """The webhook in `url`, or `NotThatPlatform`: the app, host, path and token must match."""
    parts = urlsplit(url.strip())
    query = parse_qs(parts.query)
    refused = NotThatPlatform(kind=kind, example=EXAMPLE[kind])
    if parts.scheme != "https" or parts.fragment:
        raise refused
    if kind is RobotKind.wecom:
        if parts.hostname != "qyapi.weixin.qq.com" or parts.path != "/cgi-bin/webhook/send":
            raise refused
        token = query.get("key", [""])[0]
    elif kind is RobotKind.dingtalk:
        if parts.hostname != "oapi.dingtalk.com" or parts.path != "/robot/send":
            raise refused
        token = query.get("access_token", [""])[0]
    else:
        prefix = "/open-apis/bot/v2/hook/"
        if parts.hostname not in _FEISHU_HOSTS or not parts.path.startswith(prefix):
            raise refused
        token = parts.path.removeprefix(prefix)
    if not _TOKEN.fullmatch(token):
        raise refused
    return Webhook(kind=kind, host=parts.hostname, path=parts.path, token=token)


def checked_secret(kind: RobotKind, secret: str | None) -> str | None:
    """DingTalk and Feishu robots are added signed (a leaked URL alone cannot post);
    a WeCom robot has no secret."""
    secret = (secret or "").strip() or None
    if kind is RobotKind.wecom:
        if secret is not None:
            raise NoSecret()
        return None
    if secret is None:
        raise NeedsSecret(kind=kind, where=SIGNING[kind])
    if kind is RobotKind.dingtalk and not secret.startswith("SEC"):
        raise BadSecret()
    return secret


def checked_mobile(mobile: str) -> str:
    digits = re.sub(r"[\s-]", "", mobile).removeprefix("+86")
    if not re.fullmatch(r"1\d{10}", digits):
        raise BadMobile(mobile=mobile)
    return digits


def masked_url(url: str) -> str:
    """The host and the token's last four characters: enough to tell robots apart."""
    parts = urlsplit(url)
    tail = re.sub(r"[^A-Za-z0-9]", "", url)[-4:]
    return f"{parts.scheme}://{parts.hostname}/…{tail}"


# --- the robots of a region ----------------------------------------------------------


async def add_robot(
    session: AsyncSession,
    *,
    region_code: str,
    kind: RobotKind,
    url: str,
    secret: str | None,
    mobiles: Sequence[str],
    mask_child_names: bool,
    actor_id: int | None,
    at: dt.datetime,
) -> Robot:
    """Add a robot to a region, its URL, secret and mobiles checked first."""
    region = await regions.by_code(session, region_code)
    hook = webhook(kind, url)
    robot = Robot(
        region_id=region.id,
        kind=kind,
        url=hook.url,
        secret=checked_secret(kind, secret),
        mobiles=[checked_mobile(mobile) for mobile in mobiles],
        mask_child_names=mask_child_names,
        added_at=at,
        added_by=actor_id,
    )
    existing = await session.scalar(select(Robot.id).where(Robot.url == robot.url))
    if existing is not None:
        raise RobotExists(id=existing)
    session.add(robot)
    await session.flush()
    session.add(RobotPace(robot_id=robot.id, recent=[]))
    audit.record(
        session,
        at=at,
        action="robot.add",
        actor_id=actor_id,
        subject_type="robot",
        subject_id=robot.id,
        details={"region_id": region.id, "kind": kind.value},
    )
    return robot


async def robots_of(
    session: AsyncSession, region_code: str | None = None
) -> list[tuple[Robot, Region]]:
    """The robots of one region (or all), with their region, by region then id."""
    query = select(Robot, Region).join(Region, Region.id == Robot.region_id)
    if region_code is not None:
        region = await regions.by_code(session, region_code)
        query = query.where(Robot.region_id == region.id)
    rows = await session.execute(query.order_by(Region.path, Robot.id))
    return [(robot, region) for robot, region in rows]


async def robot(session: AsyncSession, robot_id: int) -> Robot:
    found = await session.get(Robot, robot_id)
    if found is None:
        raise UnknownRobot(id=robot_id)
    return found


async def working_robots(session: AsyncSession, region_ids: Sequence[int]) -> list[Robot]:
    """The robots of these regions that are not broken: where a region's news goes."""
    found = await session.scalars(
        select(Robot)
        .where(Robot.region_id.in_(region_ids), Robot.broken_at.is_(None))
        .order_by(Robot.id)
    )
    return list(found)


async def remove_robot(
    session: AsyncSession, robot_id: int, *, actor_id: int | None, at: dt.datetime
) -> Robot:
    found = await robot(session, robot_id)
    await session.delete(found)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="robot.remove",
        actor_id=actor_id,
        subject_type="robot",
        subject_id=robot_id,
        details={"region_id": found.region_id, "kind": found.kind.value},
    )
    return found


async def mark_broken(
    session: AsyncSession, robot_id: int, *, reason: str, at: dt.datetime
) -> bool:
    """The platform refused the robot for good (key invalid, removed, signature wrong):
    nothing more is sent to it until a test through it is taken again (`mend`). `reason`
    is the platform's code and words, never the URL. True when this call broke it (a
    second worker seeing the same answer says nothing)."""
    found = await session.get(Robot, robot_id, with_for_update=True)
    if found is None or found.broken_at is not None:
        return False
    found.broken_at = at
    found.broken_reason = reason[:255]
    audit.record(
        session,
        at=at,
        action="robot.broken",
        subject_type="robot",
        subject_id=robot_id,
        details={"region_id": found.region_id, "reason": reason[:255]},
    )
    return True


async def mend(session: AsyncSession, robot_id: int, *, at: dt.datetime) -> None:
    """A broken robot took a message again (`guanai robots test`): it is sent to again."""
    found = await session.get(Robot, robot_id, with_for_update=True)
    if found is None or found.broken_at is None:
        return
    found.broken_at = None
    found.broken_reason = None
    audit.record(
        session,
        at=at,
        action="robot.mended",
        subject_type="robot",
        subject_id=robot_id,
        details={"region_id": found.region_id},
    )


# --- the pace ------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most `per_minute` requests in any minute and `per_second` in any second."""

    per_minute: int
    per_second: int | None = None


# The platforms' documented limits per robot. DingTalk blocks a robot for ten minutes
# when it goes over, so every limit is kept over a window a little longer than a minute:
# our clock and theirs, and the network, differ by some hundreds of milliseconds.
LIMITS = {
    RobotKind.wecom: Limit(per_minute=20),
    RobotKind.dingtalk: Limit(per_minute=20),
    RobotKind.feishu: Limit(per_minute=100, per_second=5),
}
MINUTE = dt.timedelta(seconds=62)
SECOND = dt.timedelta(seconds=1.2)


def wait_for_slot(
    recent: Sequence[dt.datetime], held_until: dt.datetime | None, now: dt.datetime, limit: Limit
) -> dt.timedelta:
    """How long until a request may leave (zero: now), given the requests already sent
    (oldest first) and a throttle's hold."""
    waits = [dt.timedelta(0)]
    if held_until is not None:
        waits.append(held_until - now)
    for count, window in ((limit.per_minute, MINUTE), (limit.per_second, SECOND)):
        if count is None:
            continue
        inside = [moment for moment in recent if moment > now - window]
        if len(inside) >= count:
            # the request `count` back must leave the window first
            waits.append(inside[-count] + window - now)
    return max(waits)


async def take_slot(session: AsyncSession, robot_id: int, limit: Limit) -> dt.timedelta:
    """Take a request slot of the robot now and return zero, or return how long to wait.

    The row is locked for the decision, so two senders never take the same slot; commit
    straight after and send. Two statements: senders ask this for every request.
    """
    row = (
        await session.execute(
            select(RobotPace.recent, RobotPace.held_until, func.clock_timestamp())
            .where(RobotPace.robot_id == robot_id)
            .with_for_update()
        )
    ).one_or_none()
    if row is None:  # removed meanwhile
        raise UnknownRobot(id=robot_id)
    recent, held_until, now = row
    wait = wait_for_slot(recent, held_until, now, limit)
    if wait == dt.timedelta(0):
        kept = [moment for moment in recent if moment > now - MINUTE]
        await session.execute(
            update(RobotPace).where(RobotPace.robot_id == robot_id).values(recent=[*kept, now])
        )
    return wait


async def hold(session: AsyncSession, robot_id: int, for_: dt.timedelta) -> None:
    """Send nothing to the robot for this long (from the database's now)."""
    until = func.clock_timestamp() + for_
    await session.execute(
        update(RobotPace)
        .where(RobotPace.robot_id == robot_id)
        .values(held_until=func.greatest(func.coalesce(RobotPace.held_until, until), until))
    )


# --- what reaches a region's robots --------------------------------------------------

CHANNEL = "robot"  # the outbox channel of every group robot; the target is the robot's id
ROBOT_LANGUAGE = "zh"  # the offices' groups read Chinese


def address(robot_id: int) -> Address:
    return Address(CHANNEL, str(robot_id))


def robot_id_of(to: Address) -> int:
    return int(to.target)


@dataclass(frozen=True)
class Responsible:
    """Who should act, named with their phone in the group (a robot's reader cannot
    press a button, so they call or write to that person)."""

    name: str
    phone: str | None


def reader(robot: Robot, region_name: str) -> Recipient:
    """A robot as the texts see a reader: a group of the region, reading Chinese."""
    return Recipient(
        person_id=0,
        name=region_name,
        language=ROBOT_LANGUAGE,
        address=address(robot.id),
        unreachable=False,
    )


async def tell_robots(
    session: AsyncSession,
    *,
    region_id: int,
    say: Callable[[Recipient], Sequence[Outgoing]],
    key: str,
    not_before: dt.datetime,
    media_dir: Path,
    responsible: Responsible | None = None,
    mention: bool = False,
) -> int:
    """Queue for each working robot of the region what `say` tells its coordinators: one
    row a robot, the messages' texts one after another and their files together (the
    front sends the files where its platform takes them). `say` is given the robot as a
    reader and must leave children's phones and addresses out. The dedupe key is `key`
    and the robot's: a rerun queues nothing twice. How many rows were queued."""
    found = await working_robots(session, [region_id])
    if not found:
        return 0
    region_name = await session.scalar(select(Region.name).where(Region.id == region_id))
    queued = 0
    for robot in found:
        dedupe_key = f"robot:{robot.id}:{key}"
        messages = say(reader(robot, region_name or ""))
        blocks: list[Block] = []
        actions: list[tuple[Action, ...]] = []
        files: list[dict[str, str]] = []
        for number, message in enumerate(messages):
            if message.content.text:
                blocks += [*([Block()] if blocks else []), *message.content.blocks]
            actions += message.content.actions
            if message.file is not None:
                stored = store(message.file, f"{dedupe_key}:{number}", media_dir)
                files.append({"kind": stored.kind.value, "path": stored.path, "name": stored.name})
        if not blocks:
            continue
        front: dict[str, Any] = {"files": files, "mention": mention}
        if responsible is not None:
            front |= {"responsible": responsible.name, "phone": responsible.phone}
        row = await outbox.enqueue(
            session,
            to=address(robot.id),
            content=Content(blocks=tuple(blocks), actions=tuple(actions)),
            not_before=not_before,
            dedupe_key=dedupe_key,
            front=front,
        )
        queued += row is not None
    return queued


async def responsible_of(session: AsyncSession, person_id: int) -> Responsible:
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(person_id)
    return Responsible(name=person.name, phone=person.phone)


async def report_broken(
    session: AsyncSession,
    robot_id: int,
    *,
    reason: str,
    at: dt.datetime,
    say: Callable[[Recipient, Robot, str], Outgoing],
    media_dir: Path,
) -> bool:
    """Mark the robot broken (`mark_broken`) and, when this call broke it, tell the
    coordinators of its region in chat (`say`: the words for one of them, the robot and
    the region's name). True when it broke now."""
    if not await mark_broken(session, robot_id, reason=reason, at=at):
        return False
    found = await robot(session, robot_id)
    region = await session.get(Region, found.region_id)
    assert region is not None
    heads = await session.scalars(
        select(Coordinator.person_id).where(
            Coordinator.region_id == region.id, Coordinator.removed_at.is_(None)
        )
    )
    people = await recipients(session, set(heads))
    for to in people.values():
        if not to.reachable:
            continue
        await queue(
            session,
            to=to,
            message=say(to, found, region.name),
            not_before=at,
            dedupe_key=f"robot-broken:{robot_id}:{at.isoformat()}:{to.person_id}",
            media_dir=media_dir,
        )
    return True


async def broken_robots(session: AsyncSession, region_path: str) -> list[tuple[Robot, Region]]:
    """The broken robots within a scope, for the overview."""
    rows = await session.execute(
        select(Robot, Region)
        .join(Region, Region.id == Robot.region_id)
        .where(Robot.broken_at.is_not(None), Region.path.startswith(region_path, autoescape=True))
        .order_by(Region.path, Robot.id)
    )
    return [(found, region) for found, region in rows]
