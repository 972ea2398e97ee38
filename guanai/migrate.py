"""Applying migrations, creating the database first when the server has none."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def _server(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    return await asyncpg.connect(url.render_as_string(hide_password=False))


async def _create_if_missing(connection: asyncpg.Connection, database_url: str) -> bool:
    name = make_url(database_url).database
    if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        return False
    await connection.execute(f'CREATE DATABASE "{name}"')
    return True


async def create_database_if_missing(database_url: str) -> bool:
    """Create the database named in the URL; True when it had to be created."""
    connection = await _server(database_url)
    try:
        return await _create_if_missing(connection, database_url)
    finally:
        await connection.close()


async def migrate(database_url: str) -> None:
    """Create the database if need be and upgrade it to head. Processes started together
    (`guanai bot` and `guanai worker`) take turns: a lock on the server, per database,
    held until the upgrade is done."""
    connection = await _server(database_url)
    try:
        lock = f"guanai migrate {make_url(database_url).database}"
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", lock)
        await _create_if_missing(connection, database_url)
        config = alembic_config(database_url)
        # Alembic's env.py runs its own event loop; keep it off ours.
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await connection.close()  # and with it the lock
