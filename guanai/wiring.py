"""Where the Telegram front, the workers and the core are put together, and nowhere else:
the workers are handed the front they send through, download with and render for; the
bot is handed the queue it puts photos on. `bot/` and `workers/` never import each other.

The front and the workers are imported when asked for, so a bot-only process never
loads the workers' imaging and spreadsheet libraries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from domain.clock import Clock
from guanai.settings import Settings

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from arq.worker import Worker
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from domain.ports import LadderQueue, OutboxSender, PhotoQueue
    from workers.context import Deps, SenderFactory


def make_worker(settings: Settings, **options: Any) -> Worker:
    """`workers.app.make_worker` with the Telegram front, and the senders of the further
    channels (`channels`): a new front's sender is registered there."""
    from bot.telegram.front import TelegramFront
    from workers.app import make_worker

    return make_worker(settings, front=TelegramFront, channels=channels(), **options)


def channels() -> list[SenderFactory]:
    """The senders of the channels beside Telegram (a front that only sends, as group
    robots do, is a `SenderFactory`: it drains its channel's outbox rows, rendering their
    content its own way): the group robots'."""
    return [robot_sender]


def robot_sender(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> OutboxSender:
    """The WeCom, DingTalk and Feishu robots' sender, each robot under its own pace."""
    from bot.robots.outbox import RobotOutboxSender

    return RobotOutboxSender(
        sessionmaker, media_dir=settings.media_dir, bases=settings.robot_api_urls
    )


@contextlib.asynccontextmanager
async def open_deps(settings: Settings, clock: Clock) -> AsyncIterator[Deps]:
    """What the jobs use, with the Telegram front (loaded before the worker's objects are
    frozen)."""
    from bot.telegram.front import TelegramFront
    from workers.context import open_deps

    async with open_deps(settings, clock, TelegramFront, channels()) as deps:
        yield deps


def photo_queue(redis: ArqRedis, settings: Settings) -> PhotoQueue:
    """The queue the bot hands check-in photos to, after the update commits."""
    from workers.enqueue import ArqPhotoQueue

    return ArqPhotoQueue(redis, settings)


def ladder_queue(redis: ArqRedis, settings: Settings) -> LadderQueue:
    """The queue the bot asks for an immediate ladder run on, when an emergency is reported."""
    from workers.enqueue import ArqLadderQueue

    return ArqLadderQueue(redis, settings)
