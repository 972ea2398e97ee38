"""The unit of work commits only when told, and runs after-commit actions only then."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import Person


async def _people(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def test_rolls_back_unless_committed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    ran: list[str] = []
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add(Person(name="甲"))
        uow.after_commit(lambda: _note(ran, "rolled back"))
    assert await _people(sessionmaker) == 0 and ran == []

    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add(Person(name="乙"))
        uow.after_commit(lambda: _note(ran, "committed"))
        await uow.commit()
    assert await _people(sessionmaker) == 1 and ran == ["committed"]


async def _note(ran: list[str], what: str) -> None:
    ran.append(what)
