"""The bare baseline of `bench/checkins.py`: a stock aiogram bot that makes the same Bot API
calls for the same check-in conversation as guanai, and does nothing else.

No database, no Redis, no conversation state (each button carries its step), no patches:
what any aiogram bot pays for the same traffic. `bench/checkins.py` runs it in its own
process, like `guanai bot`, and prints both bots' CPU per update and the ratio.

    BOT_TOKEN=… BOT_API_URL=… python bench/bare_checkin_bot.py
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

ANSWERS = ("是", "有一点", "勉强够", "有时", "要人提醒")
QUESTIONS = 5
router = Router()
albums: dict[str, int] = {}


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
            for row in rows
        ]
    )


def activities(home_visit_chosen: bool) -> InlineKeyboardMarkup:
    home = "✅ 家访" if home_visit_chosen else "家访"
    return keyboard([(home, "home"), ("谈心", "talk")], [("下一步", "next")])


def question(step: int) -> InlineKeyboardMarkup:
    return keyboard([(answer, f"q:{step}:{n}") for n, answer in enumerate(ANSWERS)])


@router.message(F.text == "✅ 打卡")
async def start(message: Message) -> None:
    await message.answer("今天和孩子做了什么？", reply_markup=activities(False))


@router.callback_query(F.data == "home")
async def choose(call: CallbackQuery) -> None:
    await call.answer()
    assert isinstance(call.message, Message)
    await call.message.edit_reply_markup(reply_markup=activities(True))


@router.callback_query(F.data == "next")
async def next_step(call: CallbackQuery) -> None:
    await call.answer()
    assert isinstance(call.message, Message)
    await call.message.edit_reply_markup(reply_markup=None)
    await call.message.answer("请发家访照片，可以一次发几张。")


@router.message(F.photo)
async def photo(message: Message) -> None:
    album = message.media_group_id or str(message.message_id)
    albums[album] = albums.get(album, 0) + 1
    if albums[album] == 2:
        del albums[album]
        await message.answer("问题 1/5：孩子吃得好吗？", reply_markup=question(1))


@router.callback_query(F.data.startswith("q:"))
async def answer(call: CallbackQuery) -> None:
    await call.answer()
    assert isinstance(call.message, Message) and call.data is not None
    step = int(call.data.split(":")[1])
    if step < QUESTIONS:
        text = f"问题 {step + 1}/5：孩子睡得好吗？"
        await call.message.edit_text(text, reply_markup=question(step + 1))
    else:
        summary = "家访，照片 2 张，五个问题都答了。"
        await call.message.edit_text(summary, reply_markup=keyboard([("确认", "confirm")]))


@router.callback_query(F.data == "confirm")
async def confirm(call: CallbackQuery) -> None:
    await call.answer()
    assert isinstance(call.message, Message)
    await call.message.edit_text("家访，照片 2 张，五个问题都答了。✓")
    await call.message.answer("已保存，谢谢！")


async def main() -> None:
    api = TelegramAPIServer.from_base(os.environ["BOT_API_URL"])
    bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    await dispatcher.start_polling(bot)  # SIGTERM stops it


if __name__ == "__main__":
    asyncio.run(main())
