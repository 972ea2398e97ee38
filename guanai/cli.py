"""The `guanai` command. Subcommand and option names are a contract: add, never rename.

Each command parses its arguments, opens one unit of work and calls one domain service;
failures end with one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import gettext
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.locales import load_translations
from domain import invitations, people, regions
from domain.clock import FixedClock, SystemClock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.errors import DomainError
from domain.models import InvitationRole, RegionKind, VolunteerKind
from guanai.migrate import migrate
from guanai.settings import Settings
from workers.queues import Queue


class TelegramUnavailable(DomainError):
    message = "cannot reach Telegram at {url} to learn the bot's username; pass --bot-username"


Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


class BadMoment(DomainError):
    message = "{value} is not a moment: write it as ISO-8601, e.g. 2026-11-20T09:00+08:00."


def _locale() -> str:
    lang = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "en" if lang.lower().startswith("en") else "zh"


@functools.cache
def _translation() -> gettext.NullTranslations:
    return load_translations().get(_locale(), gettext.NullTranslations())


def _say(msgid: str, **params: Any) -> str:
    return _translation().gettext(msgid).format(**params)


async def _in_transaction(
    settings: Settings, work: Callable[[UnitOfWork], Coroutine[Any, Any, str]]
) -> int:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            message = await work(uow)
            await uow.commit()
    finally:
        await engine.dispose()
    print(message)
    return 0


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from guanai.runtime import check_database  # the bot's runtime is heavy to import

    await check_database(settings)
    await migrate(settings.database_url)
    print(_say("Database is up to date."))
    return 0


async def _serve(settings: Settings, main: str, *, bot: bool, **options: Any) -> int:
    """Run `guanai.runtime.<main>` until SIGINT or SIGTERM."""
    from guanai import runtime  # aiogram takes seconds to import: only commands that serve load it

    await runtime.prepare(settings, needs_bot=bot)
    task = asyncio.ensure_future(getattr(runtime, main)(settings, **options))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve(settings, "run_all", bot=True)


async def cmd_bot(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve(settings, "run_bot", bot=True)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    queue = Queue(args.queue)
    # the main queue's worker drains the outbox, so it needs the bot's token
    return await _serve(settings, "run_worker", bot=queue is Queue.main, queue=queue)


async def cmd_jobs_list(settings: Settings, args: argparse.Namespace) -> int:
    from workers.periodic import PERIODIC

    for job in PERIODIC.values():
        line = _say("{name} (queue {queue})", name=job.name, queue=job.queue.value)
        print(line + (_say(", takes --scope") if job.scoped else ""))
    return 0


def _moment(value: str, settings: Settings) -> dt.datetime:
    """An ISO-8601 moment; without an offset it is read in the deployment's timezone."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadMoment(value=value) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=settings.tz)


async def cmd_jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    from workers.context import open_deps
    from workers.periodic import run_once

    clock = FixedClock(_moment(args.now, settings)) if args.now else SystemClock()
    async with open_deps(settings, clock) as deps:
        counts = await run_once(deps, args.name, now=clock.now(), scope=args.scope)
    summary = ", ".join(f"{key} {value}" for key, value in counts.items())
    print(_say("{name} done: {summary}", name=args.name, summary=summary or "-"))
    return 0


async def cmd_site_add(settings: Settings, args: argparse.Namespace) -> int:
    async def work(uow: UnitOfWork) -> str:
        region = await regions.add_region(
            uow.session,
            code=args.code,
            name=args.name,
            kind=RegionKind(args.kind),
            parent_code=args.parent,
            at=SystemClock().now(),
        )
        return _say(
            "Added {kind} {code} ({name}).",
            kind=region.kind.value,
            code=region.code,
            name=region.name,
        )

    return await _in_transaction(settings, work)


async def cmd_admin_add(settings: Settings, args: argparse.Namespace) -> int:
    async def work(uow: UnitOfWork) -> str:
        await people.add_coordinator(
            uow.session,
            telegram_id=args.telegram_id,
            name=args.name,
            scope_code=args.scope,
            at=SystemClock().now(),
        )
        return _say(
            "{name} now coordinates {code}; they can send /start to the bot.",
            name=args.name,
            code=args.scope,
        )

    return await _in_transaction(settings, work)


async def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    """Print a fresh invitation link (or, without a bot username, the token and how to use it)."""
    username = args.bot_username or await _bot_username(settings)

    async def work(uow: UnitOfWork) -> str:
        invitation = await invitations.create(
            uow.session,
            region=await regions.by_code(uow.session, args.site),
            role=InvitationRole(args.role),
            volunteer_kind=VolunteerKind(args.kind),
            created_by=None,
            at=SystemClock().now(),
        )
        expires = invitation.invitation.expires_at.astimezone(settings.tz).date().isoformat()
        if username is None:
            return _say(
                "Invitation token: {token}\nThe link is https://t.me/<bot username>?start={token}"
                " — set BOT_TOKEN or pass --bot-username to print it. Valid until {expires}, "
                "for one person.",
                token=invitation.token,
                expires=expires,
            )
        from aiogram.utils.deep_linking import create_deep_link  # slow to import: only here

        return _say(
            "{link}\nSend this link to one person; it is valid until {expires}.",
            link=create_deep_link(username, "start", invitation.token),
            expires=expires,
        )

    return await _in_transaction(settings, work)


async def _bot_username(settings: Settings) -> str | None:
    """The bot's username from Telegram's getMe, when a token is configured."""
    if settings.bot_token is None:
        return None
    from aiogram.exceptions import TelegramAPIError

    from bot.app import make_bot

    bot = make_bot(settings)
    try:
        return (await bot.me()).username
    except (TelegramAPIError, OSError) as error:
        raise TelegramUnavailable(url=settings.bot_api_url) from error
    finally:
        await bot.session.close()


def _telegram_id(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(_say("a Telegram id is a number: {value}", value=value))
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guanai", description="关爱 guanai — care for left-behind children"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Command, help_: str, into: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = into.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    add("migrate", cmd_migrate, "apply all migrations, creating the database if needed")
    add("run", cmd_run, "migrate, then run the bot and the worker in one process")
    add("bot", cmd_bot, "run the bot alone (long polling)")
    worker = add("worker", cmd_worker, "run the background worker alone")
    worker.add_argument(
        "--queue",
        choices=[queue.value for queue in Queue],
        default=Queue.main.value,
        help="escalations: the escalation jobs alone, with short timeouts (default: main)",
    )

    jobs = commands.add_parser(
        "jobs", help="the periodic jobs, by hand", description="the periodic jobs, by hand"
    )
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    add("list", cmd_jobs_list, "list the periodic jobs", into=jobs_commands)
    jobs_run = add(
        "run",
        cmd_jobs_run,
        "run a periodic job once, now or at a given moment",
        into=jobs_commands,
    )
    jobs_run.add_argument("name", metavar="NAME", help="a name from `guanai jobs list`")
    jobs_run.add_argument(
        "--now",
        metavar="ISO-8601",
        help="the moment the job believes it is, e.g. 2026-11-20T09:00 (default: now)",
    )
    jobs_run.add_argument("--scope", metavar="CODE", help="only this region and what is under it")

    site = commands.add_parser("site", help="the region tree", description="the region tree")
    site_commands = site.add_subparsers(dest="site_command", required=True, metavar="COMMAND")
    site_add = add("add", cmd_site_add, "add a district, township or site", into=site_commands)
    site_add.add_argument("--code", required=True, help="a short unique code, e.g. XS-ZX01")
    site_add.add_argument("--name", required=True, help="the name people use")
    site_add.add_argument("--kind", required=True, choices=[k.value for k in RegionKind])
    site_add.add_argument("--parent", help="code of the region above it")

    admin = commands.add_parser("admin", help="coordinators", description="coordinators")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    admin_add = add(
        "add", cmd_admin_add, "make someone coordinator of a site or region", into=admin_commands
    )
    admin_add.add_argument("--telegram-id", required=True, type=_telegram_id)
    admin_add.add_argument("--name", required=True)
    admin_add.add_argument("--scope", required=True, help="code of the site or region")

    invite = add("invite", cmd_invite, "print a single-use invitation link for one person")
    invite.add_argument("--site", required=True, help="code of the site (or region) to join")
    invite.add_argument(
        "--kind", default=VolunteerKind.surrogate.value, choices=[k.value for k in VolunteerKind]
    )
    invite.add_argument(
        "--role", default=InvitationRole.volunteer.value, choices=[r.value for r in InvitationRole]
    )
    invite.add_argument("--bot-username", help="the bot's @username, if BOT_TOKEN is not set here")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return int(asyncio.run(args.handler(settings, args)))
    except DomainError as error:
        message = _say(error.message, **error.params)
    except KeyboardInterrupt:
        return 130
    print(_say("error: {message}", message=message), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
