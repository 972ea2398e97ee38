"""/robot: a coordinator adds a WeCom, DingTalk or Feishu group robot for their own
scope by pasting its webhook URL (and, on the next line, the secret). guanai sends a test
message at once and says whether it arrived. The pasted message holds credentials: it
is deleted from the chat, and the answer shows the URL masked, never the secret."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiohttp import ClientSession
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.robots.deliver import RobotSender
from bot.robots.platforms import Outcome
from bot.robots.render import Notice
from bot.telegram.filters import When
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import robots
from domain.kinds import RobotKind
from domain.people import regions, scopes
from domain.people.identity import Identity
from guanai.settings import Settings


class RobotStates(StatesGroup):
    waiting_url = State()


def kind_of(url: str) -> RobotKind:
    """The platform whose webhook `url` is (`robots.NotThatPlatform` for none of them)."""
    for kind in RobotKind:
        try:
            robots.webhook(kind, url)
        except robots.NotThatPlatform:
            continue
        return kind
    raise robots.NotThatPlatform(
        kind="WeCom, DingTalk or Feishu", example=robots.EXAMPLE[RobotKind.wecom]
    )


async def start(message: Message, state: FSMContext, me: Identity) -> None:
    [scope, *_others] = scopes.outermost(me.scopes)
    await state.set_state(RobotStates.waiting_url)
    await message.answer(
        _(
            "Paste the webhook URL of the WeCom, DingTalk or Feishu group robot for {place}; "
            "for DingTalk and Feishu put its secret (加签 / 签名校验) on the next line. "
            "I will delete your message and send a test at once. /cancel to stop."
        ).format(place=scope.name)
    )


async def pasted(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with contextlib.suppress(TelegramAPIError):  # the credentials leave the chat first
        await message.delete()
    url, _newline, secret = (message.text or "").strip().partition("\n")
    [scope, *_others] = scopes.outermost(me.scopes)
    region = await regions.by_code(session, scope.code)
    robot = await robots.add_robot(
        session,
        region_code=region.code,
        kind=kind_of(url),
        url=url,
        secret=secret,
        mobiles=[],
        mask_child_names=False,
        actor_id=me.person_id,
        at=clock.now(),
    )
    robot_id, kind, masked = robot.id, robot.kind, robots.masked_url(robot.url)
    await uow.commit()  # added before we say so
    await state.clear()
    notice = Notice(
        title=_("guanai test message"),
        lines=(
            _("{place}'s escalations, emergencies and rosters will reach this group.").format(
                place=region.name
            ),
        ),
    )
    async with ClientSession() as http:
        sender = RobotSender(http, sessionmaker, _, bases=settings.robot_api_urls)
        delivery = await sender.send(robot, notice)
    answer = delivery.answer
    said = {"id": robot_id, "kind": kind.value, "url": masked}
    if answer is not None and answer.outcome is Outcome.ok:
        await message.answer(
            _("✅ Robot {id} ({kind}, {url}) is added and the test message arrived.").format(**said)
        )
        return
    if answer is not None and answer.outcome is Outcome.broken:
        async with UnitOfWork(sessionmaker) as again:
            await robots.mark_broken(
                again.session, robot_id, reason=f"{answer.code} {answer.words}", at=clock.now()
            )
            await again.commit()
    words = (
        "—"
        if answer is None
        else f"{answer.code if answer.code is not None else ''} {answer.words}".strip()
    )
    await message.answer(
        _(
            "⚠️ Robot {id} ({kind}, {url}) is added, but the test message did not arrive: "
            "{answer}. Check the URL and the secret in the group; nothing goes to a robot its "
            "platform refuses until the operator tests it again."
        ).format(answer=words, **said)
    )


def make_router() -> Router:
    router = Router(name="robots")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, Command("robot"))
    router.message.register(pasted, StateFilter(RobotStates.waiting_url), When(F.text))
    return router
