"""The unit tests: the rules that decide, as plain functions over plain data.

They run without PostgreSQL, Redis, the network or an event loop (`uv run pytest
tests/unit`, a few seconds). Each is marked `unit`; one that asks for a fixture of the
servers is refused at collection, and one that opens a connection fails.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent

# tests/conftest.py's fixtures that reach a server or start the bot
SERVER_FIXTURES = frozenset(
    {
        "template_db",
        "db_url",
        "engine",
        "sessionmaker",
        "shared_engine",
        "session",
        "redis",
        "redis_prefix",
        "fake_telegram",
        "settings",
        "running_bot",
        "guanai",
    }
)


class ConnectionRefusedInUnitTest(AssertionError):
    """A unit test tried to reach a server."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.unit)
        wanted = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if wanted:
            raise pytest.UsageError(f"{item.nodeid}: a unit test uses {sorted(wanted)}")


def _refuse(self: socket.socket, address: Any) -> None:
    raise ConnectionRefusedInUnitTest(f"a unit test connected to {address!r}")


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every socket connection fails: PostgreSQL, Redis, the network."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    yield
