"""`guanai robots add | list | test | remove`: the group robots of the regions, for the
operator. Registered into `guanai` by `guanai.cli.build_parser`; light to import.

A robot's URL and secret are credentials: they are said back masked, never whole, and
never logged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from domain.clock import SystemClock
from domain.kinds import RobotKind
from guanai.cli import _, _in_transaction, _say, _transaction, _translation

if TYPE_CHECKING:
    from domain.db import UnitOfWork
    from domain.models import Region, Robot
    from guanai.settings import Settings

TEST_TITLE = _("guanai test message")
TEST_LINE = _("This group will hear the reminders and escalations of {region}.")


def _robot_id(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(_say("a robot's id is a number: {value}", value=value))
    return int(value)


def _line(robot: Robot, region: Region) -> str:
    from domain.delivery.robots import masked_url

    said = _say(
        "{id} {kind} of {code} {name}: {url}",
        id=robot.id,
        kind=robot.kind,
        code=region.code,
        name=region.name,
        url=masked_url(robot.url),
    )
    extras = []
    if robot.secret:
        extras.append(_say("signed"))
    if robot.mobiles:
        extras.append(_say("@mentions {mobiles}", mobiles=robot.mobiles))
    if robot.mask_child_names:
        extras.append(_say("children's names masked"))
    if robot.broken_at is not None:
        extras.append(
            _say(
                "BROKEN since {when}: {reason}",
                when=robot.broken_at.date(),
                reason=robot.broken_reason,
            )
        )
    return said + ("; " + "; ".join(extras) if extras else "")


async def cmd_robots_add(settings: Settings, args: argparse.Namespace) -> int:
    from domain.delivery import robots

    async def work(uow: UnitOfWork) -> str:
        robot = await robots.add_robot(
            uow.session,
            region_code=args.region,
            kind=RobotKind(args.kind),
            url=args.url,
            secret=args.secret,
            mobiles=args.mobiles,
            mask_child_names=args.mask_names,
            actor_id=None,
            at=SystemClock().now(),
        )
        return _say(
            "Added robot {id} ({kind}) to {code}; send it a test with `guanai robots test {id}`.",
            id=robot.id,
            kind=robot.kind,
            code=args.region,
        )

    return await _in_transaction(settings, work)


async def cmd_robots_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.delivery import robots

    async def work(uow: UnitOfWork) -> str:
        found = await robots.robots_of(uow.session, args.region)
        if not found:
            return _say("No robots.")
        return "\n".join(_line(robot, region) for robot, region in found)

    return await _in_transaction(settings, work)


async def cmd_robots_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.delivery import robots

    async def work(uow: UnitOfWork) -> str:
        robot = await robots.remove_robot(
            uow.session, args.id, actor_id=None, at=SystemClock().now()
        )
        return _say("Removed robot {id} ({kind}).", id=robot.id, kind=robot.kind)

    return await _in_transaction(settings, work)


async def cmd_robots_test(settings: Settings, args: argparse.Namespace) -> int:
    """Send a test message through the robot's pace and print its platform's answer; a
    permanent refusal marks it broken, an answer taken mends it."""
    from aiohttp import ClientSession

    from bot.robots.deliver import RobotSender
    from bot.robots.platforms import Outcome
    from bot.robots.render import Notice
    from domain.db import make_engine, make_sessionmaker
    from domain.delivery import robots
    from domain.models import Region

    async def load(uow: UnitOfWork) -> tuple[Robot, str]:
        robot = await robots.robot(uow.session, args.id)
        region = await uow.session.get(Region, robot.region_id)
        return robot, region.name if region else ""

    robot, region = await _transaction(settings, load)
    notice = Notice(title=_say(TEST_TITLE), lines=(_say(TEST_LINE, region=region),))
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with ClientSession() as http:
            sender = RobotSender(
                http,
                make_sessionmaker(engine),
                _translation().gettext,
                bases=settings.robot_api_urls,
            )
            delivery = await sender.send(robot, notice)
    finally:
        await engine.dispose()
    answer = delivery.answer
    if answer is None:
        print(
            _say(
                "Robot {id} has sent its share for now; try again in {seconds} seconds.",
                id=robot.id,
                seconds=int(delivery.wait.total_seconds()) + 1,
            )
        )
        return 1
    heard = _say(
        "{code} {words}", code=answer.code if answer.code is not None else "—", words=answer.words
    )

    async def settle(uow: UnitOfWork) -> None:
        if answer.outcome is Outcome.broken:
            await robots.mark_broken(
                uow.session,
                robot.id,
                reason=f"{answer.code} {answer.words}",
                at=SystemClock().now(),
            )
        elif answer.outcome is Outcome.ok:
            await robots.mend(uow.session, robot.id, at=SystemClock().now())

    await _transaction(settings, settle)
    print(_say(OUTCOME[answer.outcome], id=robot.id, kind=robot.kind, answer=heard))
    return 0 if answer.outcome is Outcome.ok else 1


OUTCOME = {
    "ok": _("Robot {id} ({kind}) took the test message: {answer}"),
    "throttled": _("Robot {id} ({kind}) says it is too busy now; try later: {answer}"),
    "broken": _(
        "Robot {id} ({kind}) is refused by its platform, and is marked broken: {answer}. "
        "Check the URL and secret in the group's robot settings, then remove it and add it again."
    ),
    "rejected": _("Robot {id} ({kind}) refused the test message: {answer}"),
    "uncertain": _("Robot {id} ({kind}) gave no clear answer; look in the group: {answer}"),
}


def add_commands(commands: Any, add: Any) -> None:
    help_ = "the WeCom, DingTalk and Feishu group robots of the regions"
    parser = commands.add_parser("robots", help=help_, description=help_)
    robots_ = parser.add_subparsers(dest="robots_command", required=True, metavar="COMMAND")
    added = add("add", cmd_robots_add, "add a group robot to a site or region", into=robots_)
    added.add_argument("region", metavar="REGION_CODE", help="code of the site or region")
    added.add_argument("--kind", required=True, choices=[kind.value for kind in RobotKind])
    added.add_argument("--url", required=True, help="the robot's webhook URL, as the app shows it")
    added.add_argument("--secret", help="DingTalk's 加签 or Feishu's 签名校验 secret")
    added.add_argument(
        "--mobile",
        dest="mobiles",
        metavar="PHONE",
        action="append",
        default=[],
        help="a mobile to @mention in that group (repeat for more)",
    )
    added.add_argument(
        "--mask-names", action="store_true", help="write children's names masked there (张*明)"
    )
    listed = add("list", cmd_robots_list, "list the robots, their URLs masked", into=robots_)
    listed.add_argument("region", metavar="REGION_CODE", nargs="?", help="only this region's")
    tested = add(
        "test", cmd_robots_test, "send a test message and print the robot's answer", into=robots_
    )
    tested.add_argument("id", metavar="ROBOT_ID", type=_robot_id)
    removed = add("remove", cmd_robots_remove, "remove a robot", into=robots_)
    removed.add_argument("id", metavar="ROBOT_ID", type=_robot_id)
