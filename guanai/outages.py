"""Redis or PostgreSQL gone for a while: recognised, logged once, waited out.

A server that restarts, fails over or drops off the network is not a bug: the bot tells
the user to try again, the workers start polling again once it answers, and the log
says so in a line when it begins and a line when it ends, not a traceback per attempt.
"""

from __future__ import annotations

import errno
import logging
import socket

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

# PostgreSQL's connection exceptions (class 08), and a server shutting down, crashed, or
# still starting ("the database system is starting up")
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_UNREACHABLE = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return True  # refused, reset, broken pipe; a timeout; a name that does not resolve
    return isinstance(error, OSError) and error.errno in _UNREACHABLE


def is_outage(error: BaseException) -> bool:
    """Whether `error` says Redis or PostgreSQL could not be reached or dropped the
    connection (the server's fault or the network's), rather than what was asked."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 8:
        if _unreachable(current) or isinstance(current, RedisConnectionError | RedisTimeoutError):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException) and current.orig is not current:
                current, seen = current.orig, seen + 1
                continue
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        # redis raises some of its own while handling a lost connection ("WatchError: A
        # ConnectionError occurred on while watching"), without naming it the cause
        implied = current.__context__ if isinstance(current, RedisError) else None
        current, seen = current.__cause__ or implied, seen + 1
    return False


def describe(error: BaseException) -> str:
    """The error in a line: its class and the server's or the socket's words. Never a
    statement or its parameters (SQLAlchemy's own message carries both)."""
    root = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    words = str(root).strip().splitlines()
    return f"{type(root).__name__}: {words[0][:200]}" if words else type(root).__name__


class Outage:
    """One line when something loses its server, one when it has it back."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self._since_failures: int | None = None

    @property
    def ongoing(self) -> bool:
        return self._since_failures is not None

    def failed(self, error: BaseException) -> None:
        if self._since_failures is None:
            self._since_failures = 0
            self._log.warning(
                "%s: connection lost (%s); waiting for it to come back",
                self._what,
                describe(error),
            )
        self._since_failures += 1

    def over(self) -> None:
        if self._since_failures is not None:
            self._log.info(
                "%s: back after the outage (%d failed attempts)", self._what, self._since_failures
            )
            self._since_failures = None


class Backoff:
    """Waits that double from `first` up to `ceiling` seconds, until `reset`."""

    def __init__(self, ceiling: float, first: float = 0.5) -> None:
        self.ceiling = ceiling
        self._first = min(first, ceiling)
        self._next = self._first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.ceiling)
        return delay

    def reset(self) -> None:
        self._next = self._first
