"""The operator's `list`, `show` and `remove` for regions, coordinators, volunteers,
children and invitations, registered into `guanai` by `guanai.cli.build_parser`.

Light to import, like `guanai.cli`: each command loads the database layer when it runs.
Lines are said in the operator's language (`guanai.cli._say`); removal that would cut
history off is refused by `domain.people.directory` with the reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from domain.clock import SystemClock
from domain.kinds import Channel, InvitationRole, LeaveReason, RegionKind
from guanai.cli import _, _in_transaction, _say, _telegram_id, _transaction

if TYPE_CHECKING:
    from domain.db import UnitOfWork
    from domain.models import Person, Region
    from domain.people.directory import InvitationLine
    from guanai.settings import Settings


def _id(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(_say("an id is a number: {value}", value=value))
    return int(value)


def _date(moment: dt.datetime, settings: Settings) -> str:
    return moment.astimezone(settings.tz).date().isoformat()


async def _scope_path(uow: UnitOfWork, code: str | None) -> str:
    from domain.people import regions

    return (await regions.by_code(uow.session, code)).path if code else ""


def _region(region: Region) -> str:
    return _say("{code} {name} ({kind})", code=region.code, name=region.name, kind=region.kind)


# --- regions ---------------------------------------------------------------------------


async def cmd_site_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory, regions

    async def work(uow: UnitOfWork) -> str:
        top = await regions.by_code(uow.session, args.parent) if args.parent else None
        lines = await directory.region_tree(uow.session, top=top)
        if args.kind:
            lines = [line for line in lines if line.region.kind == args.kind]
        if not lines:
            return _say("No regions.")
        depth = 0 if args.kind else 1
        return "\n".join("  " * line.depth * depth + _region(line.region) for line in lines)

    return await _in_transaction(settings, work)


async def cmd_site_show(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from domain.models import Region
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        region = await directory.region_in(
            uow.session, args.code, scope_path=await _scope_path(uow, args.scope)
        )
        ids = [int(part) for part in region.path.split("/") if part][:-1]
        rows = await uow.session.execute(select(Region.id, Region.code).where(Region.id.in_(ids)))
        above = {region_id: code for region_id, code in rows}
        counts = await directory.region_counts(uow.session, region, at=SystemClock().now())
        return "\n".join(
            [
                _region(region),
                _say("Under: {above}", above=" › ".join(above[i] for i in ids) or "—"),
                _say(
                    "Sub-regions {subregions}, children {children}, volunteers {volunteers}, "
                    "coordinators {coordinators}, invitations not yet used {invitations}.",
                    subregions=counts.subregions,
                    children=counts.children,
                    volunteers=counts.volunteers,
                    coordinators=counts.coordinators,
                    invitations=counts.pending_invitations,
                ),
            ]
        )

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_site_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        region = await directory.region_in(
            uow.session, args.code, scope_path=await _scope_path(uow, args.scope)
        )
        said = _say("Removed {region}.", region=_region(region))
        await directory.remove_region(uow.session, region, actor_id=None, at=SystemClock().now())
        return said

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


# --- coordinators ----------------------------------------------------------------------


async def _telegram_ids(uow: UnitOfWork, people: Iterable[Person]) -> dict[int, str]:
    """The people's Telegram ids, the operator's way of naming them, by person id."""
    from domain.people import accounts

    found = await accounts.on_channel(uow.session, (p.id for p in people), Channel.telegram)
    return {person_id: account.external_id for person_id, account in found.items()}


async def cmd_admin_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        found = await directory.coordinators(
            uow.session, scope_path=await _scope_path(uow, args.scope)
        )
        if not found:
            return _say("No coordinators.")
        telegram_ids = await _telegram_ids(uow, (line.person for line in found))
        return "\n".join(
            _say(
                "{telegram_id} {name}: {region}, since {since}",
                telegram_id=telegram_ids.get(line.person.id),
                name=line.person.name,
                region=_region(line.region),
                since=_date(line.since, settings),
            )
            for line in found
        )

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_admin_show(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import accounts, directory
    from guanai.cli import NotACoordinator

    async def work(uow: UnitOfWork) -> str:
        person = await accounts.person_on(uow.session, Channel.telegram, str(args.telegram_id))
        roles = [
            line
            for line in await directory.coordinators(uow.session, scope_path="")
            if person is not None and line.person.id == person.id
        ]
        if person is None or not roles:
            raise NotACoordinator(telegram_id=args.telegram_id)
        return "\n".join(
            [
                _say(
                    "{name}, Telegram id {telegram_id}, phone {phone}",
                    name=person.name,
                    telegram_id=args.telegram_id,
                    phone=person.phone or "—",
                ),
                *(
                    _say(
                        "Coordinates {region} since {since}.",
                        region=_region(line.region),
                        since=_date(line.since, settings),
                    )
                    for line in roles
                ),
            ]
        )

    return await _in_transaction(settings, work)


async def cmd_admin_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory, regions
    from guanai.cli import NotCoordinating

    async def work(uow: UnitOfWork) -> str:
        region = await regions.by_code(uow.session, args.scope) if args.scope else None
        left = await directory.remove_coordinator(
            uow.session,
            channel=Channel.telegram,
            external_id=str(args.telegram_id),
            region=region,
            scope_path="",
            actor_id=None,
            at=SystemClock().now(),
        )
        if not left:
            raise NotCoordinating(
                telegram_id=args.telegram_id, where=region.code if region else "-"
            )
        return _say(
            "Telegram id {telegram_id} no longer coordinates {regions}.",
            telegram_id=args.telegram_id,
            regions=[_region(r) for r in left],
        )

    return await _in_transaction(settings, work)


# --- volunteers ------------------------------------------------------------------------


async def cmd_volunteers_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory, regions

    async def work(uow: UnitOfWork) -> str:
        region = await regions.by_code(uow.session, args.site)
        found = await directory.volunteers(uow.session, region=region)
        if not found:
            return _say("No volunteers in {code}.", code=region.code)
        return "\n".join(
            _say(
                "{id} {name} ({kind}), {site}: paired with {pairings} children, "
                "{checkins} check-ins",
                id=line.volunteer.id,
                name=line.person.name,
                kind=line.volunteer.kind,
                site=line.site.code,
                pairings=line.pairings,
                checkins=line.checkins,
            )
            for line in found
        )

    return await _in_transaction(settings, work)


async def cmd_volunteers_show(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        line = await directory.volunteer(
            uow.session, args.id, scope_path=await _scope_path(uow, args.scope)
        )
        children = await directory.paired_child_ids(uow.session, line.volunteer.id)
        telegram_ids = await _telegram_ids(uow, [line.person])
        return "\n".join(
            [
                _say(
                    "Volunteer {id}: {name} ({kind}), at {site}",
                    id=line.volunteer.id,
                    name=line.person.name,
                    kind=line.volunteer.kind,
                    site=_region(line.site),
                ),
                _say(
                    "Telegram id {telegram_id}, phone {phone}, joined {joined}",
                    telegram_id=telegram_ids.get(line.person.id, "—"),
                    phone=line.person.phone or "—",
                    joined=_date(line.volunteer.joined_at, settings),
                ),
                _say(
                    "Paired with children {children}; {checkins} check-ins.",
                    children=", ".join(map(str, children)) or "—",
                    checkins=line.checkins,
                ),
            ]
        )

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_volunteers_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        line = await directory.volunteer(
            uow.session, args.id, scope_path=await _scope_path(uow, args.scope)
        )
        await directory.remove_volunteer(uow.session, line, actor_id=None, at=SystemClock().now())
        return _say(
            "Removed volunteer {id} ({name}) from {site}.",
            id=line.volunteer.id,
            name=line.person.name,
            site=line.site.code,
        )

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


# --- children --------------------------------------------------------------------------


CHILD_LINE = _("{id} {name}, born {born}, {site}: {volunteers} volunteers, {checkins} check-ins")
KEY_CHILD_LINE = _(
    "{id} {name}, born {born}, {site}, key child: {volunteers} volunteers, {checkins} check-ins"
)


async def cmd_children_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.models import Priority
    from domain.people import directory, regions

    async def work(uow: UnitOfWork) -> str:
        region = await regions.by_code(uow.session, args.site)
        found = await directory.children(
            uow.session, region=region, actor_id=None, at=SystemClock().now()
        )
        if not found:
            return _say("No children in {code}.", code=region.code)
        return "\n".join(
            _say(
                KEY_CHILD_LINE if line.child.priority is Priority.key else CHILD_LINE,
                id=line.child.id,
                name=line.child.name,
                born=line.child.birth_date.isoformat() if line.child.birth_date else "—",
                site=line.site.code,
                volunteers=line.pairings,
                checkins=line.checkins,
            )
            for line in found
        )

    return await _in_transaction(settings, work)


async def cmd_children_show(settings: Settings, args: argparse.Namespace) -> int:
    from domain.models import Priority
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        card = await directory.child(
            uow.session,
            args.id,
            scope_path=await _scope_path(uow, args.scope),
            actor_id=None,
            at=SystemClock().now(),
        )
        child = card.line.child
        lines = [
            _say(
                "Child {id}: {name}, {sex}, born {born}, at {site}",
                id=child.id,
                name=child.name,
                sex=_say(child.sex.value) if child.sex else "—",
                born=child.birth_date.isoformat() if child.birth_date else "—",
                site=_region(card.line.site),
            ),
            _say(
                "School {school}, grade {grade}, class {class_name}; address {address}",
                school=child.school or "—",
                grade=child.grade or "—",
                class_name=child.class_name or "—",
                address=child.address or "—",
            ),
        ]
        if child.priority is Priority.key:
            lines.append(_say("Key child."))
        if child.left_at is not None:
            lines.append(
                _say(
                    "Left the programme on {date} ({reason}).",
                    date=_date(child.left_at, settings),
                    reason=_say(LEAVE_REASON[child.left_reason or LeaveReason.other]),
                )
            )
        if child.forgotten_at is not None:
            lines.append(
                _say("Personal data erased on {date}.", date=_date(child.forgotten_at, settings))
            )
        lines += [
            _say(
                "Guardian: {name} ({relation}), phone {phone}",
                name=guardian.name,
                relation=guardian.relation or "—",
                phone=guardian.phone or "—",
            )
            for guardian in child.guardians
        ]
        lines += [
            _say(
                "Parent ({relation}): works in {place}, phone {phone}",
                relation=_say(parent.relation),
                place=parent.work_place or "—",
                phone=parent.phone or "—",
            )
            for parent in child.parents
        ]
        lines.append(
            _say(
                "Paired with {volunteers}; {checkins} check-ins.",
                volunteers=[f"{vid} {name}" for vid, name in card.volunteers] or "—",
                checkins=card.line.checkins,
            )
        )
        return "\n".join(lines)

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_children_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        child = await directory.remove_child(
            uow.session,
            args.id,
            scope_path=await _scope_path(uow, args.scope),
            actor_id=None,
            at=SystemClock().now(),
        )
        return _say("Removed child {id} ({name}).", id=args.id, name=child.name)

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_children_leave(settings: Settings, args: argparse.Namespace) -> int:
    from domain.archive import leaving
    from guanai.cli import _tell_the_volunteer

    async def work(uow: UnitOfWork) -> str:
        at = SystemClock().now()
        left = await leaving.take_out(
            uow.session,
            args.id,
            reason=LeaveReason(args.reason),
            scope_path=await _scope_path(uow, args.scope),
            actor_id=None,
            at=at,
        )
        await _tell_the_volunteer(uow.session, settings, child_id=args.id, at=at)
        return _say(
            "Child {id} has left the programme ({reason}); {pairings} pairings ended, the "
            "volunteers told. Their personal data is erased after the site's retention period.",
            id=args.id,
            reason=_say(LEAVE_REASON[LeaveReason(args.reason)]),
            pairings=len(left.ended),
        )

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


async def cmd_children_forget(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from domain.archive import leaving

    async def work(uow: UnitOfWork) -> tuple[leaving.Left, leaving.Forgotten]:
        return await leaving.forget_now(
            uow.session,
            args.id,
            scope_path=await _scope_path(uow, args.scope),
            actor_id=None,
            at=SystemClock().now(),
        )

    left, forgotten = await _transaction(settings, work, audit_details={"scope": args.scope})
    await asyncio.to_thread(leaving.remove_files, settings.media_dir, forgotten.files)
    print(
        _say(
            "Erased child {id}'s personal data: {messages} messages masked, photos deleted. "
            "Pairings ended (tell these volunteers): {volunteers}.",
            id=args.id,
            messages=forgotten.messages,
            volunteers=sorted({p.volunteer_id for p in left.ended}) or "—",
        )
    )
    return 0


LEAVE_REASON = {
    LeaveReason.finished_school: _("finished school"),
    LeaveReason.moved_away: _("moved away"),
    LeaveReason.parents_returned: _("parents came home, no longer left behind"),
    LeaveReason.other: _("other"),
}


# --- invitations -----------------------------------------------------------------------


def _invitation(line: InvitationLine, settings: Settings, now: dt.datetime) -> str:
    invitation = line.invitation
    if invitation.used_at is not None:
        status = _say("used {date}", date=_date(invitation.used_at, settings))
    elif invitation.revoked_at is not None:
        status = _say("revoked {date}", date=_date(invitation.revoked_at, settings))
    elif invitation.expires_at <= now:
        status = _say("expired {date}", date=_date(invitation.expires_at, settings))
    else:
        status = _say("valid until {date}", date=_date(invitation.expires_at, settings))
    who = (
        invitation.volunteer_kind
        if invitation.role is InvitationRole.volunteer and invitation.volunteer_kind
        else _say("coordinator")
    )
    return _say(
        "{id} {region}: for a {who}, {status}",
        id=invitation.id,
        region=_region(line.region),
        who=who,
        status=status,
    )


async def cmd_invitations_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory, regions

    now = SystemClock().now()

    async def work(uow: UnitOfWork) -> str:
        region = await regions.by_code(uow.session, args.site) if args.site else None
        found = await directory.invitations(uow.session, region=region, every=args.all, at=now)
        if not found:
            return _say("No invitations.")
        return "\n".join(_invitation(line, settings, now) for line in found)

    return await _in_transaction(settings, work)


async def cmd_invitations_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain.people import directory

    async def work(uow: UnitOfWork) -> str:
        line = await directory.revoke_invitation(
            uow.session,
            args.id,
            scope_path=await _scope_path(uow, args.scope),
            actor_id=None,
            at=SystemClock().now(),
        )
        return _say("Revoked invitation {id}: its link no longer works.", id=line.invitation.id)

    return await _in_transaction(settings, work, audit_details={"scope": args.scope})


# --- the command line ------------------------------------------------------------------


def add_commands(commands: Any, add: Any, *, site: Any, admin: Any) -> None:
    """Add list/show/remove to `site` and `admin`, and the `volunteers`, `children` and
    `invitations` commands."""
    scope_help = "refuse unless it is in this site or region (code)"

    listed = add("list", cmd_site_list, "list the region tree", into=site)
    listed.add_argument("--parent", metavar="CODE", help="only this region and what is under it")
    listed.add_argument("--kind", choices=[k.value for k in RegionKind], help="only this kind")
    shown = add("show", cmd_site_show, "show a region: where it is and what it holds", into=site)
    shown.add_argument("code", metavar="CODE")
    shown.add_argument("--scope", metavar="CODE", help=scope_help)
    removed = add(
        "remove",
        cmd_site_remove,
        "remove a region that holds nothing (refused otherwise)",
        into=site,
    )
    removed.add_argument("code", metavar="CODE")
    removed.add_argument("--scope", metavar="CODE", help=scope_help)

    listed = add("list", cmd_admin_list, "list the coordinators", into=admin)
    listed.add_argument("--scope", metavar="CODE", help="only those of regions in this one")
    shown = add("show", cmd_admin_show, "show what a coordinator coordinates", into=admin)
    shown.add_argument("telegram_id", metavar="TELEGRAM_ID", type=_telegram_id)
    removed = add(
        "remove", cmd_admin_remove, "end someone's coordination (kept on record)", into=admin
    )
    removed.add_argument("telegram_id", metavar="TELEGRAM_ID", type=_telegram_id)
    removed.add_argument("--scope", metavar="CODE", help="only of this region (default: all)")

    def group(name: str, help_: str) -> Any:
        parser = commands.add_parser(name, help=help_, description=help_)
        return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    groups: dict[str, Any] = {}
    for name, (list_, show, remove), whose, what, kept in (
        (
            "volunteers",
            (cmd_volunteers_list, cmd_volunteers_show, cmd_volunteers_remove),
            "the volunteers of a site",
            "volunteer",
            "remove a volunteer never paired (refused otherwise)",
        ),
        (
            "children",
            (cmd_children_list, cmd_children_show, cmd_children_remove),
            "the children of a site",
            "child",
            "remove a child's archive with nothing on record (refused otherwise)",
        ),
    ):
        entity = groups[name] = group(name, whose)
        listed = add("list", list_, f"list a site's {name}", into=entity)
        listed.add_argument("--site", required=True, metavar="CODE", help="a site or region")
        for sub in (
            add("show", show, f"show a {what}", into=entity),
            add("remove", remove, kept, into=entity),
        ):
            sub.add_argument("id", metavar="ID", type=_id, help=f"the {what} id (from list)")
            sub.add_argument("--scope", metavar="CODE", help=scope_help)

    leave = add(
        "leave",
        cmd_children_leave,
        "take a child out of the programme: their pairings end, the volunteers are told",
        into=groups["children"],
    )
    leave.add_argument("id", metavar="ID", type=_id, help="the child id (from list)")
    leave.add_argument("--reason", required=True, choices=[r.value for r in LeaveReason])
    leave.add_argument("--scope", metavar="CODE", help=scope_help)
    forget = add(
        "forget",
        cmd_children_forget,
        "erase a child's personal data now (a guardian withdrew consent); counts stay",
        into=groups["children"],
    )
    forget.add_argument("id", metavar="ID", type=_id, help="the child id (from list)")
    forget.add_argument("--scope", metavar="CODE", help=scope_help)

    invitations = group("invitations", "invitation links")
    listed = add("list", cmd_invitations_list, "list invitations still usable", into=invitations)
    listed.add_argument("--site", metavar="CODE", help="only for places in this region")
    listed.add_argument("--all", action="store_true", help="also used, revoked and expired ones")
    removed = add(
        "remove", cmd_invitations_remove, "revoke an invitation nobody used", into=invitations
    )
    removed.add_argument("id", metavar="ID", type=_id, help="the invitation id (from list)")
    removed.add_argument("--scope", metavar="CODE", help=scope_help)
