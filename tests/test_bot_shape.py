"""What keeps the bot light: filters in the event loop, types built on use, calls as JSON."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

from aiogram import Router
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.app import make_bot
from guanai.settings import Settings
from tests.conftest import RunningBot
from tests.fakes import FakeTelegram


def _routers(router: Router) -> Iterator[Router]:
    yield router
    for child in router.sub_routers:
        yield from _routers(child)


async def test_no_filter_leaves_the_event_loop(running_bot: RunningBot) -> None:
    """aiogram runs a filter that is not a coroutine in a thread, once per check per
    update; `bot.telegram.filters.When` is the loop-side form of a magic filter."""
    in_threads = [
        f"{router.name}: {handler.callback.__name__} {filter_.callback!r}"
        for router in _routers(running_bot.dp)
        for observer in router.observers.values()
        for handler in observer.handlers
        for filter_ in handler.filters or ()
        if not filter_.awaitable
    ]
    assert in_threads == []


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_bot_and_workers_import_aiogram_with_its_types_unbuilt() -> None:
    out = _run(
        """
        import guanai.runtime, workers.app
        from aiogram.types import Message, Update
        print(Message.__pydantic_complete__, Update.__pydantic_complete__)
        update = Update.model_validate({"update_id": 1, "message": {
            "message_id": 2, "date": 0, "chat": {"id": 3, "type": "private"}, "text": "打卡"}})
        print(update.message.text, Update.__pydantic_complete__)
        """
    )
    assert out.split() == ["False", "False", "打卡", "True"]


def test_the_bot_loads_none_of_the_workers_libraries() -> None:
    """Imaging (Pillow, numpy, imagehash), charts and workbooks load only in a worker:
    in the bot they would add ~14 MB for nothing (bench/checkins.py's peak memory)."""
    out = _run(
        """
        import sys
        import guanai.runtime, bot.telegram.routers.checkin
        heavy = ("PIL", "numpy", "imagehash", "matplotlib", "openpyxl")
        loaded = {name.split(".")[0] for name in sys.modules} & set(heavy)
        print(sorted(loaded | {name for name in sys.modules if name == "workers.jobs"}))
        """
    )
    assert out.strip() == "[]"


def test_every_aiogram_type_and_method_still_builds_on_first_use() -> None:
    """What aiogram's import-time build guaranteed, checked here once for all of them."""
    out = _run(
        """
        import bot
        import aiogram.methods, aiogram.types
        from pydantic import BaseModel
        built = failed = 0
        for module in (aiogram.types, aiogram.methods):
            for name in module.__all__:
                model = getattr(module, name)
                if not (isinstance(model, type) and issubclass(model, BaseModel)):
                    continue
                if getattr(model, "__parameters__", ()):
                    continue  # a generic such as Response[T]: built per type argument
                try:
                    model.model_rebuild(raise_errors=True)
                    built += model.__pydantic_complete__
                except Exception as error:
                    failed += 1
                    print(name, error)
        print(built, failed)
        """
    )
    built, failed = out.split()[-2:]
    assert failed == "0", out
    assert int(built) > 500


async def test_calls_and_uploads_reach_the_bot_api_whole(
    settings: Settings, fake_telegram: FakeTelegram
) -> None:
    bot = make_bot(settings)
    try:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="确认", callback_data="ok:1")]]
        )
        await bot.send_message(4242, "请核对", reply_markup=keyboard)
        await bot.send_document(4242, BufferedInputFile(b"PK xlsx", filename="值班表.xlsx"))
    finally:
        await bot.session.close()
    message, document = fake_telegram.calls[-2:]
    assert message.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "确认", "callback_data": "ok:1"}]]
    }
    assert (message.params["chat_id"], message.params["text"]) == (4242, "请核对")
    attached = document.params["document"].removeprefix("attach://")
    assert document.files == {attached: b"PK xlsx"}
    assert document.file_names == {attached: "值班表.xlsx"}
