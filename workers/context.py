"""What every job finds in arq's `ctx`: built on worker start-up, disposed on shutdown."""

from __future__ import annotations

from typing import Any, TypedDict

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.clock import Clock
from domain.db import UnitOfWork
from guanai.settings import Settings


class JobContext(TypedDict):
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    bot: Bot  # for downloading users' files


def unit_of_work(ctx: dict[str, Any]) -> UnitOfWork:
    return UnitOfWork(ctx["sessionmaker"])
