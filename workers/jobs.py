"""Periodic jobs: each opens its units of work and calls domain services.

A job takes `(deps, now, scope)`: `now` is the moment the run believes it is (the cron's
time, or `guanai jobs run --now`); a job that runs for long reads later moments from
`deps.clock`. `scope` is a region code or None for everything. Jobs may run more than
once, or in two workers at once; every one of them is idempotent. Each returns counts
of what it did, for the log and the operator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from domain import housekeeping
from workers.context import Deps

log = logging.getLogger(__name__)


async def send_outbox(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Drain the outbox; cron starts it every few seconds, one drain runs at a time."""
    report = await deps.sender.drain(deps.clock)
    return dataclasses.asdict(report)


async def forget_old_updates(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    async with deps.unit_of_work() as uow:
        count = await housekeeping.forget_old_updates(uow.session, now=now)
        await uow.commit()
    log.info("forgot %d processed update ids", count)
    return {"forgotten": count}
