"""The periodic jobs, by name: what arq's cron starts and what `guanai jobs run` runs by hand.

Adding a job is one line in `PERIODIC`; escalation jobs say `queue=Queue.escalations`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from domain.errors import DomainError
from workers import jobs
from workers.context import Deps
from workers.queues import Queue

Job = Callable[[Deps, dt.datetime, str | None], Awaitable[Mapping[str, int]]]
Times = int | frozenset[int] | None  # None: every; arq's cron fields


MAX_TRIES = 3  # jobs are idempotent: one killed with its worker is simply run again


@dataclasses.dataclass(frozen=True)
class Cron:
    """When arq starts a job, in the settings' timezone (TIMEZONE)."""

    weekday: Times = None  # 0 is Monday
    day: Times = None
    hour: Times = None
    minute: Times = None
    second: Times = 0


def every(seconds: int) -> Cron:
    return Cron(second=frozenset(range(0, 60, seconds)))


@dataclasses.dataclass(frozen=True)
class Periodic:
    name: str
    run: Job
    when: Cron
    queue: Queue = Queue.main
    scoped: bool = False  # takes `--scope CODE` (a region and everything under it)
    at_startup: bool = False

    def cron_fields(self) -> dict[str, Any]:
        """`when` as arq's `cron()` keywords (arq wants plain sets)."""
        fields = dataclasses.asdict(self.when)
        return {k: set(v) if isinstance(v, frozenset) else v for k, v in fields.items()}


PERIODIC: dict[str, Periodic] = {
    job.name: job
    for job in (
        Periodic("send-outbox", jobs.send_outbox, every(seconds=5), at_startup=True),
        Periodic("forget-old-updates", jobs.forget_old_updates, Cron(hour=3, minute=17)),
        Periodic("forget-leavers", jobs.forget_leavers, Cron(hour=3, minute=37)),
        Periodic("new-school-year", jobs.new_school_year, Cron(hour=6, minute=7), scoped=True),
        Periodic("photo-sweep", jobs.sweep_photos, Cron(minute=frozenset(range(2, 60, 5)))),
        Periodic("reminders", jobs.send_reminders, Cron(hour=9, minute=0), scoped=True),
        Periodic(
            "escalations",
            jobs.climb_ladder,
            Cron(minute=frozenset(range(0, 60, 10))),
            queue=Queue.escalations,
            scoped=True,
        ),
        Periodic("roster", jobs.send_rosters, Cron(weekday=0, hour=8, minute=0), scoped=True),
        Periodic("monthly-record", jobs.send_care_records, Cron(hour=8, minute=30), scoped=True),
        Periodic(
            "verification-sample", jobs.draw_verification_sample, Cron(day=1, hour=6, minute=0)
        ),
    )
}


class UnknownJob(DomainError):
    message = "There is no job called {name}. The jobs are: {names}."


class JobTakesNoScope(DomainError):
    message = "The job {name} always runs for everything; it takes no --scope."


def on_queue(queue: Queue) -> list[Periodic]:
    return [job for job in PERIODIC.values() if job.queue is queue]


async def run_once(
    deps: Deps, name: str, *, now: dt.datetime, scope: str | None
) -> Mapping[str, int]:
    """Run a job once, at `now`, the way the cron would."""
    job = PERIODIC.get(name)
    if job is None:
        raise UnknownJob(name=name, names=", ".join(PERIODIC))
    if scope is not None and not job.scoped:
        raise JobTakesNoScope(name=name)
    return await job.run(deps, now, scope)
