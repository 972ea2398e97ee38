"""Telling an outage from a bug, in a line that leaks nothing; waits that double."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, WatchError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from guanai.outages import Backoff, Outage, describe, is_outage


class _AdapterError(Exception):
    """What SQLAlchemy's asyncpg adapter raises, the driver's error as its cause."""


def _watch_error() -> WatchError:
    """What arq's enqueue gets when Redis drops the connection inside its WATCH."""
    try:
        try:
            raise RedisConnectionError("Error while reading from 127.0.0.1:6379")
        except RedisConnectionError:
            raise WatchError("A ConnectionError occurred on while watching one or more keys")  # noqa: B904
    except WatchError as error:
        return error


def _wrapped(driver_error: Exception, **kwargs: bool) -> OperationalError:
    adapted = _AdapterError(str(driver_error))
    adapted.__cause__ = driver_error
    return OperationalError(
        "INSERT INTO children (name) VALUES ($1)", ("李小花",), adapted, **kwargs
    )


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        OSError(113, "No route to host"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        _watch_error(),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        InterfaceError("SELECT 1", (), _AdapterError("closed"), connection_invalidated=True),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_server_out_of_reach_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        PermissionError(13, "Permission denied"),  # the media folder, not a server
        FileNotFoundError(2, "No such file"),
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        WatchError("Watched variable changed."),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        IntegrityError("INSERT", (), _AdapterError("duplicate key")),
        _wrapped(asyncpg.exceptions.UndefinedTableError('relation "children" does not exist')),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_bug_or_a_refused_statement_is_not(error: Exception) -> None:
    assert not is_outage(error)


def test_the_line_names_the_error_but_never_the_statement_or_its_values() -> None:
    error = _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    line = describe(error)
    assert line == "_AdapterError: terminating connection"
    assert "李小花" not in line and "INSERT" not in line


def test_an_outage_is_logged_when_it_begins_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(logging.getLogger("test.outage"), "worker (main queue)")
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(50):
            outage.failed(ConnectionRefusedError(111, "Connection refused"))
        outage.over()
        outage.over()
    assert [record.getMessage() for record in caplog.records] == [
        "worker (main queue): connection lost (ConnectionRefusedError: [Errno 111] "
        "Connection refused); waiting for it to come back",
        "worker (main queue): back after the outage (50 failed attempts)",
    ]


def test_waits_double_up_to_the_ceiling_and_start_again_after_a_reset() -> None:
    backoff = Backoff(ceiling=5)
    assert [backoff.next() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 0.5
    assert Backoff(ceiling=0.2).next() == 0.2
