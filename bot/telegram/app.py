"""Factories for the bot and the dispatcher; the entry points only wire these."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import errors
from bot.telegram.i18n import LOCALES, GuanaiI18nMiddleware, make_i18n
from bot.telegram.middlewares import UnitOfWorkMiddleware
from bot.telegram.patches import BotSession, ConversationStorage, check_versions
from bot.telegram.routers import (
    archives,
    checkin,
    children,
    common,
    concern,
    coordinator,
    duty,
    emergency,
    escalations,
    fallback,
    invite,
    join,
    overdue,
    overview,
    pairing,
    review,
    robots,
    sample,
    volunteer,
)
from domain.clock import Clock
from domain.ports import LadderQueue, PhotoQueue
from domain.wording import texts
from guanai.settings import Settings

CONVERSATION_TTL = 3600  # an abandoned conversation is cleared after an hour


def make_bot(settings: Settings) -> Bot:
    check_versions()  # the session's patches: refused in one line outside their range
    session = BotSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
    return Bot(settings.require_bot_token(), session=session)


def make_storage(settings: Settings, redis: Redis) -> ConversationStorage:
    return ConversationStorage(
        redis,
        key_builder=DefaultKeyBuilder(prefix=f"{settings.redis_prefix}:fsm"),
        state_ttl=CONVERSATION_TTL,
        data_ttl=CONVERSATION_TTL,
    )


def make_dispatcher(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: ConversationStorage,
    clock: Clock,
    photo_queue: PhotoQueue,
    ladder_queue: LadderQueue,
    i18n: I18n | None = None,
) -> Dispatcher:
    """`photo_queue` reaches handlers by name, to queue photos after the update commits.

    Updates of one chat are handled one at a time: an album's photos arrive as separate
    updates and must not race on the conversation's state. The lock is in-process (one
    polling bot); several bot processes behind a webhook would need
    `storage.create_isolation()` (a lock in Redis, two more round trips per update).
    """
    i18n = i18n or make_i18n()
    dp = Dispatcher(
        storage=storage,
        events_isolation=SimpleEventIsolation(),
        settings=settings,
        clock=clock,
        sessionmaker=sessionmaker,
        i18n=i18n,
        photo_queue=photo_queue,
        ladder_queue=ladder_queue,
    )
    dp.update.outer_middleware(UnitOfWorkMiddleware(sessionmaker, settings.tz))
    GuanaiI18nMiddleware(i18n).setup(dp)
    dp.include_routers(
        errors.make_router(),
        checkin.make_guard_router(),
        common.make_router(),
        robots.make_router(),
        archives.make_router(),
        escalations.make_router(),
        pairing.make_router(),
        invite.make_router(),
        overview.make_router(),
        overdue.make_router(),
        duty.make_router(),
        children.make_router(),
        review.make_router(),
        sample.make_router(),
        join.make_router(),
        volunteer.make_router(),
        checkin.make_router(),
        concern.make_router(),
        emergency.make_router(),
        coordinator.make_router(),
        fallback.make_router(),
    )
    dp.startup.register(register_commands)
    return dp


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """The command list Telegram shows, in Chinese by default and in English for English users."""
    for locale in LOCALES:
        with i18n.context(), i18n.use_locale(locale):
            commands = [
                BotCommand(command=name, description=str(text)) for name, text in texts.COMMANDS
            ]
        await bot.set_my_commands(
            commands,
            scope=BotCommandScopeDefault(),
            language_code=None if locale == "zh" else locale,
        )
