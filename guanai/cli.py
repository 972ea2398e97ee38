"""The `guanai` command. Subcommand and option names are a contract: add, never rename.

Each command parses its arguments, opens one unit of work and calls one domain service;
failures end with one line on stderr and a non-zero exit status.

`guanai --help` must answer at once, so this module imports only light things: each
command imports the database layer, the bot or the workers when it runs
(tests/test_cli.py checks which modules an import of this one loads).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gettext
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from domain.clock import FixedClock, SystemClock
from domain.errors import DomainError, Held, OutOfScope
from domain.kinds import Channel, InvitationRole, RegionKind, RobotKind, VolunteerKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from domain.archive.archive_import import ImportResult
    from domain.db import UnitOfWork
    from domain.models import Child, Volunteer
    from domain.schedule.calendar import Month
    from guanai.settings import Settings

    Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]

# The values of workers.queues.Queue (parsing arguments imports no `workers` module; a test
# checks them).
QUEUES = ("main", "escalations")


class TelegramUnavailable(DomainError):
    message = "cannot reach Telegram at {url} to learn the bot's username; pass --bot-username"


Scopes = tuple[str, ...] | None
T = TypeVar("T")


class NotACoordinator(DomainError):
    message = "Telegram id {telegram_id} is not a coordinator."


class NotCoordinating(DomainError):
    message = "Telegram id {telegram_id} does not coordinate {where}."


class CannotReadFile(DomainError):
    message = "Cannot read the file {path}."


class CannotWriteFile(DomainError):
    message = "Cannot write the file {path}."


class BadMoment(DomainError):
    message = "{value} is not a moment: write it as ISO-8601, e.g. 2026-11-20T09:00+08:00."


def _locale() -> str:
    lang = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "en" if lang.lower().startswith("en") else "zh"


def _translation() -> gettext.NullTranslations:
    from domain.language import catalogue  # compiled on first use, as the fronts' are

    return catalogue(_locale())


def _(msgid: str) -> str:
    """Marks a message id for the catalogue where it is translated later (by `_say`)."""
    return msgid


# Kinds said in the operator's words, never as the enums' values.
REGION_KIND = {
    RegionKind.district: _("district"),
    RegionKind.township: _("township"),
    RegionKind.school: _("school"),
    RegionKind.village: _("village"),
    RegionKind.community: _("community"),
}
VOLUNTEER_KIND = {
    VolunteerKind.wulao: _("“Five elders” volunteer"),
    VolunteerKind.surrogate: _("Surrogate parent"),
    VolunteerKind.teacher: _("Teacher"),
}
ROBOT_KIND = {
    RobotKind.wecom: _("WeCom"),
    RobotKind.dingtalk: _("DingTalk"),
    RobotKind.feishu: _("Feishu"),
}
HELD = {
    "sub-regions": _("sub-regions ({count})"),
    "children": _("children ({count})"),
    "volunteers": _("volunteers, past or present ({count})"),
    "coordinators": _("coordinators, past or present ({count})"),
    "used invitations": _("used invitations ({count})"),
    "rosters": _("weekly rosters ({count})"),
    "escalation steps": _("escalation steps ({count})"),
    "duty shifts": _("duty shifts ({count})"),
    "robots": _("group robots ({count})"),
    "pairings": _("pairings ({count})"),
    "check-ins": _("check-ins ({count})"),
    "concerns": _("concerns ({count})"),
    "escalations": _("escalations ({count})"),
}


def _word(value: Any) -> Any:
    """A message parameter in the operator's words: kinds translated, lists joined."""
    if isinstance(value, RegionKind):
        return _say(REGION_KIND[value])
    if isinstance(value, VolunteerKind):
        return _say(VOLUNTEER_KIND[value])
    if isinstance(value, RobotKind):
        return _say(ROBOT_KIND[value])
    if isinstance(value, Held):
        return _say(HELD.get(value.what, value.what + " ({count})"), count=value.count)
    if isinstance(value, tuple | list):
        return ("、" if _locale() == "zh" else ", ").join(str(_word(item)) for item in value)
    return value


def _say(msgid: str, **params: Any) -> str:
    words = {name: _word(value) for name, value in params.items()}
    return _translation().gettext(msgid).format(**words)


class OutsideScope(DomainError):
    """Something the operator named exists, outside the region the command is confined to."""

    message = "{what} is not in {scope}, the region given with --scope."


class OutsideCoordinatorScope(DomainError):
    message = "{what} is outside the scope of coordinator {telegram_id} (--as)."


IT = _("It")
OUT_OF_SCOPE = {
    "child": _("This child"),
    "volunteer": _("This volunteer"),
    "invitation": _("This invitation"),
    "escalation": _("This escalation"),
    "checkin": _("This check-in"),
}


def _outside(refusal: OutOfScope, details: dict[str, Any]) -> DomainError:
    """Say that it is outside the scope, not that it does not exist; name only the thing
    the operator typed (a region's code), nothing else about it."""
    what = refusal.params.get("code") or _say(OUT_OF_SCOPE.get(refusal.subject_type, IT))
    if details.get("as") is not None:
        return OutsideCoordinatorScope(what=what, telegram_id=details["as"])
    if details.get("scope"):
        return OutsideScope(what=what, scope=details["scope"])
    return refusal


async def _transaction(
    settings: Settings,
    work: Callable[[UnitOfWork], Coroutine[Any, Any, T]],
    *,
    audit_details: dict[str, Any] | None = None,
) -> T:
    """Run `work` in one unit of work and commit; a scope refusal is audited all the same."""
    from domain.db import UnitOfWork, make_engine, make_sessionmaker
    from domain.people import audit

    engine = make_engine(settings.database_url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with UnitOfWork(sessionmaker) as uow:
            result = await work(uow)
            await uow.commit()
    except OutOfScope as refusal:
        await audit.record_refusal(
            sessionmaker,
            refusal,
            at=SystemClock().now(),
            details={"via": "cli", **(audit_details or {})},
        )
        raise _outside(refusal, audit_details or {}) from refusal
    finally:
        await engine.dispose()
    return result


async def _in_transaction(
    settings: Settings,
    work: Callable[[UnitOfWork], Coroutine[Any, Any, str]],
    *,
    audit_details: dict[str, Any] | None = None,
) -> int:
    print(await _transaction(settings, work, audit_details=audit_details))
    return 0


async def _acting_as(session: AsyncSession, telegram_id: int | None) -> tuple[Scopes, int | None]:
    """`--as`: the scopes and person of the coordinator the command acts for; without it
    the operator's command line sees everything."""
    from domain.people import identity

    if telegram_id is None:
        return None, None
    me = await identity.identify(session, Channel.telegram, str(telegram_id))
    if me is None or not me.is_coordinator:
        raise NotACoordinator(telegram_id=telegram_id)
    return tuple(scope.path for scope in me.scopes), me.person_id


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CannotReadFile(path=str(path)) from error


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from domain.archive.archive_import import (
        ImportKind,
        bad_rows_workbook,
        error_report,
        fix_file_name,
        import_archive,
    )
    from domain.archive.spreadsheets import SheetLimits
    from domain.people import regions

    path = Path(args.file)
    data = _read_file(path)

    async def work(uow: UnitOfWork) -> ImportResult:
        scope_paths, actor_id = await _acting_as(uow.session, args.as_telegram_id)
        site = await regions.by_code(uow.session, args.site)
        return await import_archive(
            uow.session,
            kind=ImportKind(args.what),
            site_id=site.id,
            data=data,
            file_name=path.name,
            scope_paths=scope_paths,
            actor_id=actor_id,
            at=SystemClock().now(),
            limits=SheetLimits(settings.import_max_bytes, settings.import_max_rows),
        )

    result = await _transaction(
        settings, work, audit_details={"command": f"import {args.what}", "as": args.as_telegram_id}
    )
    if not result.applied:
        gettext = _translation().gettext
        for line in error_report(result, gettext):
            print(line, file=sys.stderr)
        fixes = path.with_name(fix_file_name(path.name, gettext))
        try:
            fixes.write_bytes(bad_rows_workbook(result, gettext))
        except OSError as error:
            print(
                _say("The sheet to fix could not be written: {error}", error=error), file=sys.stderr
            )
        else:
            print(
                _say("The sheet to fix, with the reasons, is {path}", path=fixes), file=sys.stderr
            )
        return 1
    print(
        _say(
            "Imported into {site}: {added} added, {updated} updated, {unchanged} unchanged.",
            site=result.site_name,
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
        )
    )
    return 0


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _say("a day is written like 2027-07-10: {value}", value=value)
        ) from None


def _month(value: str) -> Month:
    from domain.schedule.calendar import Month

    try:
        return Month.parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _say("a month is written like 2026-11: {value}", value=value)
        ) from None


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from domain.archive import archive_export
    from domain.language import speaking
    from domain.schedule.calendar import Month

    now = SystemClock().now()

    async def work(uow: UnitOfWork) -> bytes:
        scope_paths, actor_id = await _acting_as(uow.session, args.as_telegram_id)
        if args.what == "children":
            return await archive_export.children_xlsx(
                uow.session,
                scope_code=args.scope,
                scope_paths=scope_paths,
                actor_id=actor_id,
                at=now,
            )
        return await archive_export.checkins_xlsx(
            uow.session,
            scope_code=args.scope,
            month=args.month or Month.of(now, settings.tz),
            tz=settings.tz,
            scope_paths=scope_paths,
            actor_id=actor_id,
            at=now,
        )

    with speaking(_locale()):  # the sheets speak the operator's language
        data = await _transaction(
            settings,
            work,
            audit_details={"command": f"export {args.what}", "as": args.as_telegram_id},
        )
    try:
        await asyncio.to_thread(Path(args.out).write_bytes, data)
    except OSError as error:
        raise CannotWriteFile(path=args.out) from error
    print(_say("Wrote {path}.", path=args.out))
    return 0


async def cmd_commendation(settings: Settings, args: argparse.Namespace) -> int:
    """表彰名单: the school year's commendation list of each township in the scope, as .xlsx."""
    from bot.telegram.i18n import make_i18n
    from domain.reports import recognition
    from domain.wording.workbooks import commendation_workbook

    today = args.today or SystemClock().now().astimezone(settings.tz).date()

    async def work(uow: UnitOfWork) -> recognition.CommendationLists | None:
        return await recognition.commendation_lists(
            uow.session,
            scope_path=await _scope_path(uow.session, args.scope),
            today=today,
            tz=settings.tz,
        )

    lists = await _transaction(settings, work, audit_details={"command": "commendation"})
    if lists is None or not lists.townships:
        print(_say("Nothing to commend yet: no township with a month of this school year."))
        return 1
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale(_locale()):
        data = commendation_workbook(lists.townships, lists.first, lists.last, today, _locale())
    try:
        await asyncio.to_thread(Path(args.out).write_bytes, data)
    except OSError as error:
        raise CannotWriteFile(path=args.out) from error
    print(_say("Wrote {path}.", path=args.out))
    return 0


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from guanai.checks import check_database  # not the bot's runtime: heavy to import
    from guanai.migrate import migrate

    await check_database(settings)
    await migrate(settings.database_url)
    print(_say("Database is up to date."))
    return 0


async def _serve(
    settings: Settings,
    main: str,
    *,
    bot: bool,
    matrix: bool = False,
    files: bool = False,
    charts: bool = False,
    **options: Any,
) -> int:
    """Run `guanai.runtime.<main>` until SIGINT or SIGTERM."""
    from guanai import runtime  # the bot's routers and the workers: only commands that serve

    await runtime.prepare(
        settings, needs_bot=bot, needs_matrix=matrix, makes_files=files, makes_charts=charts
    )
    task = asyncio.ensure_future(getattr(runtime, main)(settings, **options))
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        logging.getLogger("guanai").info("%s received: stopping", sig.name)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 0


def _webhook(settings: Settings, args: argparse.Namespace) -> Settings:
    """`--webhook URL` wins over WEBHOOK_URL; a secret Telegram would refuse stops here."""
    if args.webhook:
        settings = settings.model_copy(update={"webhook_url": args.webhook})
    if settings.webhook_url and settings.bot_token is not None:
        settings.webhook_secret_token()
    return settings


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve(
        _webhook(settings, args),
        "run_all",
        bot=True,
        matrix=bool(settings.matrix_homeserver),
        files=True,
        charts=True,
    )


async def cmd_matrix(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve(settings, "run_matrix", bot=False, matrix=True)


async def cmd_bot(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve(_webhook(settings, args), "run_bot", bot=True)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.queues import Queue

    queue = Queue(args.queue)
    # the main queue's worker drains the outbox, so it needs the bot's token, and it draws
    # the rosters' charts
    main_queue = queue is Queue.main
    return await _serve(
        settings, "run_worker", bot=main_queue, files=True, charts=main_queue, queue=queue
    )


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
    from guanai.wiring import open_deps
    from workers.periodic import run_once

    clock = FixedClock(_moment(args.now, settings)) if args.now else SystemClock()
    async with open_deps(settings, clock) as deps:
        counts = await run_once(deps, args.name, now=clock.now(), scope=args.scope)
    summary = ", ".join(f"{key} {value}" for key, value in counts.items())
    print(_say("{name} done: {summary}", name=args.name, summary=summary or "-"))
    return 0


async def cmd_site_add(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import regions

    async def work(uow: UnitOfWork) -> str:
        region = await regions.add_region(
            uow.session,
            code=args.code,
            name=args.name,
            kind=RegionKind(args.kind),
            parent_code=args.parent,
            at=SystemClock().now(),
            whole_tree=True,
        )
        return _say(
            "Added {kind} {code} ({name}).",
            kind=region.kind,
            code=region.code,
            name=region.name,
        )

    return await _in_transaction(settings, work)


async def cmd_site_set(settings: Settings, args: argparse.Namespace) -> int:
    from domain.care import review
    from domain.people import regions

    async def work(uow: UnitOfWork) -> str:
        region = await regions.by_code(uow.session, args.code)
        review.set_site_rules(
            region,
            review_distance_m=args.review_distance_m,
            review_days_back=args.review_days_back,
            sample_percent=args.sample_percent,
        )
        rules = (await review.site_rules(uow.session, [region.path]))[region.path]
        return _say(
            "{code}: check-ins over {metres} m from home or back-dated over {days} days go "
            "for review; {percent}% of home visits are checked by phone each month.",
            code=region.code,
            metres=rules.distance_m,
            days=rules.days_back,
            percent=f"{rules.sample_percent:g}",
        )

    return await _in_transaction(settings, work)


async def cmd_admin_add(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import identity

    async def work(uow: UnitOfWork) -> str:
        await identity.add_coordinator(
            uow.session,
            channel=Channel.telegram,
            external_id=str(args.telegram_id),
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


async def _scope_path(session: AsyncSession, code: str | None) -> str:
    """The operator acts everywhere; `--scope CODE` restricts a command to one region."""
    from domain.people import regions

    return (await regions.by_code(session, code)).path if code else ""


async def _pairing_work(uow: UnitOfWork, args: argparse.Namespace) -> tuple[Volunteer, Child, str]:
    from domain.archive import lookup

    scope_path = await _scope_path(uow.session, args.scope)
    volunteer = await lookup.volunteer_by_ref(uow.session, args.volunteer, scope_path=scope_path)
    child = await lookup.child_by_ref(uow.session, args.child, scope_path=scope_path)
    return volunteer, child, scope_path


async def _tell_the_volunteer(
    session: AsyncSession, settings: Settings, *, child_id: int, at: dt.datetime
) -> None:
    """The volunteer learns of the pairing change in chat, as when a coordinator makes it."""
    from domain.wording.news import pairing_changed

    await pairing_changed(session, child_id=child_id, at=at, tz=settings.tz)


async def _pairing_command(
    settings: Settings, args: argparse.Namespace, change: Any, done: str
) -> int:
    """`pair` and `unpair`: find both by reference within `--scope`, then change the pairing."""

    async def work(uow: UnitOfWork) -> str:
        volunteer, child, scope_path = await _pairing_work(uow, args)
        at = SystemClock().now()
        await change(
            uow.session,
            volunteer_id=volunteer.id,
            child_id=child.id,
            scope_path=scope_path,
            actor_id=None,
            at=at,
        )
        await _tell_the_volunteer(uow.session, settings, child_id=child.id, at=at)
        return _say(done, volunteer=volunteer.id, child=child.id, name=child.name)

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_pair(settings: Settings, args: argparse.Namespace) -> int:
    from domain.care import pairings

    return await _pairing_command(
        settings,
        args,
        pairings.pair,
        _("Paired volunteer {volunteer} with child {child} ({name})."),
    )


async def cmd_unpair(settings: Settings, args: argparse.Namespace) -> int:
    from domain.care import pairings

    return await _pairing_command(
        settings,
        args,
        pairings.unpair,
        _("Ended the pairing of volunteer {volunteer} with child {child} ({name})."),
    )


async def cmd_demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from guanai.demo_data import make_demo_district

    async def work(uow: UnitOfWork) -> str:
        report = await make_demo_district(
            uow.session,
            children=args.children,
            volunteers=args.volunteers,
            months=args.months,
            now=SystemClock().now(),
            tz=settings.tz,
            seed=args.seed,
            code=args.code,
        )
        return _say(
            "Made demo district {code}: {sites} sites, {children} children, {volunteers} "
            "volunteers, {pairings} pairings, {checkins} check-ins.",
            code=args.code,
            sites=report.sites,
            children=report.children,
            volunteers=report.volunteers,
            pairings=report.pairings,
            checkins=report.checkins,
        )

    return await _in_transaction(settings, work)


async def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    """Print a fresh invitation link (or, without a bot username, the token and how to use it)."""
    from domain.people import invitations, regions

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
        from bot.telegram.botapi import start_link

        return _say(
            "{link}\nSend this link to one person; it is valid until {expires}.",
            link=start_link(username, invitation.token),
            expires=expires,
        )

    return await _in_transaction(settings, work)


async def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """One line per check; exit 0 when all pass (compose's health check), else 1."""
    from guanai.checks import health

    limit = args.outbox_minutes or settings.health_outbox_minutes
    lines = await health(settings, SystemClock().now(), limit)
    for line in lines:
        result = _say(line.message, **line.params)
        print(_say("{check}: {result}", check=_say(line.check), result=result))
    return 0 if all(line.ok for line in lines) else 1


def _diagnose(settings: Settings, error: Exception) -> DomainError | None:
    """Why a command failed, when PostgreSQL or Redis is the cause (down, not migrated)."""
    import uvloop

    from guanai.checks import diagnose

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(diagnose(settings, error))


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(_say("expected a positive number: {value}", value=value))
    return int(value)


async def _bot_username(settings: Settings) -> str | None:
    """The bot's username from Telegram's getMe, when a token is configured."""
    if settings.bot_token is None:
        return None
    from bot.telegram.botapi import BotApiError, bot_username

    try:
        return await bot_username(settings)
    except BotApiError as error:
        raise TelegramUnavailable(url=settings.bot_api_url) from error


def _telegram_id(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(_say("a Telegram id is a number: {value}", value=value))
    return int(value)


# argparse's refusals, in the operator's words (its English, as Python 3.11 writes it).
ARGPARSE_SAYS = (
    (re.compile(r"the following arguments are required: (?P<names>.+)"), _("{names} missing")),
    (
        re.compile(
            r"argument (?P<name>\S+): invalid choice: (?P<value>.+) \(choose from (?P<choices>.+)\)"
        ),
        _("{name} cannot be {value}: choose from {choices}"),
    ),
    (re.compile(r"argument (?P<name>\S+): expected one argument"), _("{name} needs a value")),
    (re.compile(r"unrecognized arguments: (?P<words>.+)"), _("not understood: {words}")),
    (re.compile(r"argument (?P<name>\S+): (?P<why>.+)"), _("{name}: {why}")),
)


class Parser(argparse.ArgumentParser):
    """Refuses bad arguments in one line, in the operator's language, exit status 2."""

    def error(self, message: str) -> NoReturn:
        for pattern, msgid in ARGPARSE_SAYS:
            if match := pattern.fullmatch(message):
                message = _say(msgid, **match.groupdict())
                break
        line = _say("error: {message}", message=message)
        self.exit(2, _say("{line} (see {prog} --help)", line=line, prog=self.prog) + "\n")


# ---------------------------------------------------------------- outbox: uncertain messages


async def cmd_outbox_uncertain(settings: Settings, args: argparse.Namespace) -> int:
    """Messages whose request may or may not have reached Telegram: ids only, no text."""
    from domain.delivery import outbox

    async def work(uow: UnitOfWork) -> str:
        found = await outbox.uncertain(uow.session)
        if not found:
            return _say("No message is uncertain.")
        return "\n".join(
            _say(
                "Message {id} to {chat} ({kind}), sent {when}: it may or may not have arrived.",
                id=message.id,
                chat=f"{message.to.channel}:{message.to.target}",
                kind=message.kind,
                when=message.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S"),
            )
            for message in found
        )

    return await _in_transaction(settings, work)


async def _outbox_decide(settings: Settings, ids: list[int], *, resend: bool) -> int:
    from domain.delivery import outbox
    from domain.people import audit

    async def work(uow: UnitOfWork) -> str:
        now = SystemClock().now()
        if resend:
            done = await outbox.resend(uow.session, ids, now=now)
        else:
            done = await outbox.drop(uow.session, ids)
        for message_id in done:
            audit.record(
                uow.session,
                at=now,
                action="outbox.resent" if resend else "outbox.dropped",
                subject_type="outbox",
                subject_id=message_id,
                details={"via": "cli"},
            )
        done_line = (
            _("Message {id} will be sent again.")
            if resend
            else _("Message {id} was dropped; it will not be sent.")
        )
        return "\n".join(_say(done_line, id=message_id) for message_id in done)

    return await _in_transaction(settings, work)


async def cmd_outbox_resend(settings: Settings, args: argparse.Namespace) -> int:
    return await _outbox_decide(settings, args.ids, resend=True)


async def cmd_outbox_drop(settings: Settings, args: argparse.Namespace) -> int:
    return await _outbox_decide(settings, args.ids, resend=False)


def _add_outbox_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    outbox_ = commands.add_parser(
        "outbox",
        help="messages that may or may not have arrived",
        description="messages that may or may not have arrived",
    )
    outbox_commands = outbox_.add_subparsers(
        dest="outbox_command", required=True, metavar="COMMAND"
    )
    add(
        "uncertain",
        cmd_outbox_uncertain,
        "list the messages whose sending was cut off: they may or may not have arrived",
        into=outbox_commands,
    )
    for name, handler, help_ in (
        ("resend", cmd_outbox_resend, "send these uncertain messages again (they did not arrive)"),
        ("drop", cmd_outbox_drop, "never send these uncertain messages (they arrived)"),
    ):
        sub = add(name, handler, help_, into=outbox_commands)
        sub.add_argument("ids", metavar="ID", nargs="+", type=_positive, help="a message id")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="guanai", description="关爱 guanai — care for left-behind children")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Command, help_: str, into: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = into.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    add("migrate", cmd_migrate, "apply all migrations, creating the database if needed")
    run = add(
        "run",
        cmd_run,
        "migrate, then run the bot and the worker in one process (and the Matrix front, "
        "when MATRIX_HOMESERVER is set)",
    )
    bot = add("bot", cmd_bot, "run the bot alone (long polling, or a webhook)")
    for serving in (run, bot):
        serving.add_argument(
            "--webhook",
            metavar="URL",
            help="take updates at this public https URL instead of polling (or: WEBHOOK_URL)",
        )
    add(
        "matrix",
        cmd_matrix,
        "run the Matrix front alone (MATRIX_HOMESERVER, MATRIX_USER and a token or password)",
    )
    worker = add("worker", cmd_worker, "run the background worker alone")
    worker.add_argument(
        "--queue",
        choices=QUEUES,
        default=QUEUES[0],
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
    site_set = add(
        "set",
        cmd_site_set,
        "set a region's review and phone-check settings (inherited by what is under it)",
        into=site_commands,
    )
    site_set.add_argument("code", metavar="CODE", help="code of the site or region")
    site_set.add_argument(
        "--review-distance-m", type=int, help="metres from home beyond which a check-in is reviewed"
    )
    site_set.add_argument(
        "--review-days-back", type=int, help="days back-dated beyond which a check-in is reviewed"
    )
    site_set.add_argument(
        "--sample-percent", type=float, help="share of home visits checked by phone (%%)"
    )

    admin = commands.add_parser("admin", help="coordinators", description="coordinators")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    admin_add = add(
        "add", cmd_admin_add, "make someone coordinator of a site or region", into=admin_commands
    )
    admin_add.add_argument("--telegram-id", required=True, type=_telegram_id)
    admin_add.add_argument("--name", required=True)
    admin_add.add_argument("--scope", required=True, help="code of the site or region")

    as_help = "act as this coordinator (Telegram id), confined to their scope"
    import_ = add("import", cmd_import, "import children's archives or volunteers from .xlsx/.csv")
    import_.add_argument("what", choices=["children", "volunteers"])
    import_.add_argument("file", help="an .xlsx or .csv file")
    import_.add_argument("--site", required=True, help="code of the school, village or community")
    import_.add_argument("--as", dest="as_telegram_id", type=_telegram_id, help=as_help)

    export = add("export", cmd_export, "export children or a month's check-ins as .xlsx")
    export.add_argument("what", choices=["children", "checkins"])
    export.add_argument("--scope", required=True, help="code of the site or region")
    export.add_argument("--month", type=_month, help="YYYY-MM (check-ins; default: this month)")
    export.add_argument("--out", required=True, help="the .xlsx file to write")
    export.add_argument("--as", dest="as_telegram_id", type=_telegram_id, help=as_help)

    commend = add(
        "commendation",
        cmd_commendation,
        "the school year's commendation list (表彰名单) of each township, as .xlsx",
    )
    commend.add_argument("--scope", help="code of a township or district (default: all)")
    commend.add_argument("--out", required=True, help="the .xlsx file to write")
    commend.add_argument(
        "--today", type=_day, help="YYYY-MM-DD: the year counted is the one up to this month"
    )

    for name, handler, help_ in (
        ("pair", cmd_pair, "pair a volunteer with a child"),
        ("unpair", cmd_unpair, "end a volunteer's pairing with a child (the history is kept)"),
    ):
        sub = add(name, handler, help_)
        sub.add_argument(
            "--volunteer", required=True, help="volunteer id, Telegram id or phone number"
        )
        sub.add_argument("--child", required=True, help="child id or full name")
        sub.add_argument("--scope", help="refuse unless both are in this site or region (code)")

    demo = add("demo-data", cmd_demo_data, "make a synthetic district to try guanai on")
    demo.add_argument("--children", type=_positive, default=35_000)
    demo.add_argument("--volunteers", type=_positive, default=3_500)
    demo.add_argument("--months", type=_positive, default=12, help="months of check-ins")
    demo.add_argument("--seed", type=int, default=1, help="the same seed makes the same data")
    demo.add_argument("--code", default="DEMO", help="code of the district (must be new)")

    invite = add("invite", cmd_invite, "print a single-use invitation link for one person")
    invite.add_argument("--site", required=True, help="code of the site (or region) to join")
    invite.add_argument(
        "--kind", default=VolunteerKind.surrogate.value, choices=[k.value for k in VolunteerKind]
    )
    invite.add_argument(
        "--role", default=InvitationRole.volunteer.value, choices=[r.value for r in InvitationRole]
    )
    invite.add_argument("--bot-username", help="the bot's @username, if BOT_TOKEN is not set here")

    from guanai import operator  # list, show and remove: light to import, like this module

    operator.add_commands(commands, add, site=site_commands, admin=admin_commands)
    health = add(
        "health", cmd_health, "check the database, Redis, Telegram and the outbox; exit 1 if not"
    )
    health.add_argument(
        "--outbox-minutes",
        type=_positive,
        help="unhealthy when a due message has waited longer (default: HEALTH_OUTBOX_MINUTES)",
    )
    _add_outbox_commands(commands, add)
    from guanai import robot_commands  # light to import, like this module

    robot_commands.add_commands(commands, add)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # a line for every update handled is noise at hundreds a second; failures still log
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    import uvloop

    from guanai.settings import load_settings  # pydantic: loaded once the arguments are good

    try:
        settings = load_settings()
        # uvloop: the event loop in C, a fifth less CPU per update for the bot (bench/checkins.py)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return int(runner.run(args.handler(settings, args)))
    except DomainError as error:
        message = _say(error.message, **error.params)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        found = _diagnose(settings, error)
        if found is None:
            raise
        message = _say(found.message, **found.params)
    print(_say("error: {message}", message=message), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
