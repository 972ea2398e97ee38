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


async def create_database_if_missing(database_url: str) -> bool:
    """Create the database named in the URL; True when it had to be created."""
    url = make_url(database_url)
    server = url.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", url.database
        )
        if exists:
            return False
        await connection.execute(f'CREATE DATABASE "{url.database}"')
        return True
    finally:
        await connection.close()


async def migrate(database_url: str) -> None:
    await create_database_if_missing(database_url)
    config = alembic_config(database_url)
    # Alembic's env.py runs its own event loop; keep it off ours.
    await asyncio.to_thread(command.upgrade, config, "head")
