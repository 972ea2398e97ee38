"""导入档案 and 导出: a coordinator sends a spreadsheet and gets the archives in, or asks for
the children's sheet of their scope.

The import asks at most two things, with buttons: what the file holds, and (when the
scope has several sites) which site it is for. The file is downloaded and applied in
the update's transaction: all of it, or none of it with the rows to fix.
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Document, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import keyboards
from bot.telegram.callbacks import ImportSite, ImportWhat
from bot.telegram.filters import When
from domain.archive import archive_export
from domain.archive.archive_import import (
    ImportKind,
    ImportResult,
    bad_rows_workbook,
    error_report,
    fix_file_name,
    import_archive,
)
from domain.archive.spreadsheets import MAX_FILE_SIZE, FileTooLarge, SheetLimits, UnsupportedFile
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Region
from domain.people import regions
from domain.people.identity import Identity
from domain.schedule.calendar import Month
from domain.wording import formatting, texts
from guanai.settings import Settings

MESSAGE_LIMIT = 4000  # characters of one message (Telegram's limit is 4096)
MAX_SITE_BUTTONS = 30


class ImportStates(StatesGroup):
    waiting_file = State()


def _sheet_like(document: Document | None) -> bool:
    """Files a coordinator plainly meant as a list (an old .xls gets told how to convert)."""
    return document is not None and (document.file_name or "").lower().endswith(
        (".xlsx", ".csv", ".xls")
    )


def _scope_paths(me: Identity) -> tuple[str, ...]:
    return tuple(scope.path for scope in me.scopes)


async def import_menu(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("What does the file hold?"), reply_markup=keyboards.import_kinds())


async def kind_chosen(
    query: CallbackQuery,
    callback_data: ImportWhat,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    bot: Bot,
    clock: Clock,
    settings: Settings,
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.update_data(kind=callback_data.kind.value)
    if "file_id" in await state.get_data():
        await _import(query.message, state, uow, me, bot, clock, settings)
        return
    await state.set_state(ImportStates.waiting_file)
    await query.message.answer(
        _(
            "Please send the Excel (.xlsx) or .csv file now, as a file (📎), not as a photo. "
            "The first rows may hold a title; the header row names the columns, e.g. "
            "姓名, 性别, 出生日期, 学校, 监护人, 监护人电话."
        )
    )


async def document_received(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    bot: Bot,
    clock: Clock,
    settings: Settings,
) -> None:
    document = message.document
    assert document is not None
    if not (document.file_name or "").lower().endswith((".xlsx", ".csv")):
        raise UnsupportedFile()
    if document.file_size is not None and document.file_size > MAX_FILE_SIZE:
        raise FileTooLarge()
    limits = sheet_limits(settings)
    if document.file_size is not None and document.file_size > limits.max_bytes:
        raise limits.refuse()
    await state.update_data(
        file_id=document.file_id, file_name=document.file_name, caption=message.caption
    )
    if "kind" not in await state.get_data():
        await message.answer(_("What does the file hold?"), reply_markup=keyboards.import_kinds())
        return
    await _import(message, state, uow, me, bot, clock, settings)


async def photo_instead_of_file(message: Message) -> None:
    await message.answer(
        _("That is a photo. Please send the spreadsheet itself as a file (📎 → File).")
    )


async def site_chosen(
    query: CallbackQuery,
    callback_data: ImportSite,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    bot: Bot,
    clock: Clock,
    settings: Settings,
) -> None:
    site = await session.get(Region, callback_data.site_id)
    if site is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    regions.require_within(site, _scope_paths(me), by_id=True)
    data = await state.get_data()
    if "file_id" not in data or "kind" not in data or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await state.update_data(site_id=callback_data.site_id)
    await _import(query.message, state, uow, me, bot, clock, settings)


async def _import(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    bot: Bot,
    clock: Clock,
    settings: Settings,
) -> None:
    """The file and what it holds are known: find the site, then download and apply."""
    session = uow.session
    data: dict[str, Any] = await state.get_data()
    site_id = data.get("site_id")
    if site_id is None:
        sites = await regions.sites_within(session, _scope_paths(me))
        by_code = {site.code.lower(): site for site in sites}
        caption = (data.get("caption") or "").strip().lower()
        if caption in by_code:
            site_id = by_code[caption].id
        elif len(sites) == 1:
            site_id = sites[0].id
        elif not sites:
            await state.clear()
            await message.answer(_("There is no school, village or community in your area yet."))
            return
        elif len(sites) > MAX_SITE_BUTTONS:
            await state.clear()
            await message.answer(
                _(
                    "Your area has many sites. Please send the file again and write the "
                    "site's code as the file's caption."
                )
            )
            return
        else:
            await message.answer(
                _("Which site is this file for?"), reply_markup=keyboards.import_sites(sites)
            )
            return
    try:
        downloaded = await bot.download(data["file_id"], destination=io.BytesIO())
    except TelegramBadRequest as error:  # "file is too big" when the size was not given
        raise FileTooLarge() from error
    assert isinstance(downloaded, io.BytesIO)
    result = await import_archive(
        session,
        kind=ImportKind(data["kind"]),
        site_id=site_id,
        data=downloaded.getvalue(),
        file_name=data["file_name"],
        scope_paths=_scope_paths(me),
        actor_id=me.person_id,
        at=clock.now(),
        limits=sheet_limits(settings),
    )
    await uow.commit()  # imported before we say so
    await state.clear()
    await _report(message, result)


def sheet_limits(settings: Settings) -> SheetLimits:
    return SheetLimits(max_bytes=settings.import_max_bytes, max_rows=settings.import_max_rows)


async def _report(message: Message, result: ImportResult) -> None:
    if result.applied:
        await message.answer(
            _(
                "Imported into {site}: {added} added, {updated} updated, {unchanged} unchanged."
            ).format(
                site=result.site_name,
                added=result.added,
                updated=result.updated,
                unchanged=result.unchanged,
            )
        )
        return
    lines = [
        *error_report(result, _),
        _("The sheet comes back below: the cells to fix are red, and the last column says why."),
    ]
    for text in _messages(lines):
        await message.answer(text)
    await message.answer_document(
        BufferedInputFile(
            bad_rows_workbook(result, _), filename=fix_file_name(result.file_name, _)
        ),
        caption=_("Please correct the red cells and send this file again."),
    )


def _messages(lines: list[str]) -> list[str]:
    """Lines joined into messages that each fit Telegram's limit."""
    messages: list[str] = []
    for line in lines:
        if messages and len(messages[-1]) + 1 + len(line) <= MESSAGE_LIMIT:
            messages[-1] += "\n" + line
        else:
            messages.append(line[:MESSAGE_LIMIT])
    return messages


async def export_children(
    message: Message, session: AsyncSession, me: Identity, clock: Clock, tz: ZoneInfo
) -> None:
    """Each scope's children's archives, and this month's check-ins in it."""
    now = clock.now()
    month = Month.of(now, tz)
    for scope in me.scopes:
        children = await archive_export.children_xlsx(
            session,
            scope_code=scope.code,
            scope_paths=_scope_paths(me),
            actor_id=me.person_id,
            at=now,
        )
        await message.answer_document(
            BufferedInputFile(children, filename=f"children-{scope.code}.xlsx"),
            caption=_("Children's archives of {scope}").format(scope=scope.name),
        )
        checkins = await archive_export.checkins_xlsx(
            session,
            scope_code=scope.code,
            month=month,
            tz=tz,
            scope_paths=_scope_paths(me),
            actor_id=me.person_id,
            at=now,
        )
        await message.answer_document(
            BufferedInputFile(checkins, filename=f"checkins-{scope.code}-{month}.xlsx"),
            caption=_("Check-ins of {scope} in {month}").format(
                scope=scope.name, month=formatting.month(month)
            ),
        )


def make_router() -> Router:
    router = Router(name="archives")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(import_menu, When(F.text == texts.IMPORT))
    router.message.register(export_children, When(F.text == texts.EXPORT))
    router.message.register(
        document_received, StateFilter(ImportStates.waiting_file), When(F.document)
    )
    router.message.register(
        photo_instead_of_file, StateFilter(ImportStates.waiting_file), When(F.photo)
    )
    router.message.register(document_received, When(F.document.func(_sheet_like)))
    router.callback_query.register(kind_chosen, ImportWhat.filter())
    router.callback_query.register(site_chosen, ImportSite.filter())
    return router
