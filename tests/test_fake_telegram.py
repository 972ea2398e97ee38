"""The fake Bot API driven by a real aiogram Bot and Dispatcher.

Why: every bot test relies on the fake behaving like Telegram as aiogram sees it, so these
tests exercise it only through aiogram's real HTTP session and exception mapping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiohttp import web

from tests.fakes import FakeTelegram

CHAT = 1001
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    async with Bot("42:TEST", session=session) as bot:
        yield bot


@asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot, tg: FakeTelegram) -> AsyncIterator[None]:
    """Run the dispatcher's real long-polling loop for the duration of the block."""
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        await tg.wait_for_call("getUpdates")
        yield
    finally:
        await dp.stop_polling()
        await task


async def test_get_me(bot: Bot, tg: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (4242, "guanai_test_bot", True)
    assert tg.calls[0].method == "getMe"


async def test_text_reaches_handler_and_reply_is_readable(bot: Bot, tg: FakeTelegram) -> None:
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        await message.answer(f"你好，{message.from_user and message.from_user.first_name}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    user = tg.user(CHAT, "小明")
    async with polling(dp, bot, tg):
        user.send_text("/start")
        assert (await user.next_message()).text == "你好，小明"
        user.send_text("123")
        reply = await user.next_message()
    assert reply.text == "echo: 123"
    assert reply.chat_id == CHAT
    assert user.last_message is reply


async def test_user_photo_downloads_with_identical_bytes(bot: Bot, tg: FakeTelegram) -> None:
    data = bytes(range(256)) * 4000  # ~1 MB: bigger than aiohttp's default body limit
    downloaded: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    dp = Dispatcher()

    @dp.message(F.photo)
    async def on_photo(message: Message, bot: Bot) -> None:
        assert message.photo is not None and message.caption == "作业"
        assert len(message.photo) == 2
        assert message.photo[0].file_unique_id != message.photo[-1].file_unique_id
        buffer = await bot.download(message.photo[-1].file_id)
        assert buffer is not None
        downloaded.set_result(buffer.read())

    user = tg.user(CHAT)
    async with polling(dp, bot, tg):
        user.send_photo(data, caption="作业")
        assert await asyncio.wait_for(downloaded, 5) == data


async def test_inline_button_press_reaches_callback_handler(bot: Bot, tg: FakeTelegram) -> None:
    dp = Dispatcher()

    @dp.message(Command("menu"))
    async def menu(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="✅ 确认", callback_data="confirm:7")],
                [InlineKeyboardButton(text="取消", callback_data="cancel")],
            ]
        )
        await message.answer("请选择", reply_markup=keyboard)

    @dp.callback_query(F.data.startswith("confirm:"))
    async def confirm(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message) and query.message.text == "请选择"
        await query.answer("已确认", show_alert=True)
        await query.message.edit_text("已确认 ✅")

    user = tg.user(CHAT)
    async with polling(dp, bot, tg):
        user.send_text("/menu")
        menu_message = await user.next_message()
        assert menu_message.button_texts() == ["✅ 确认", "取消"]
        update_id = user.press(menu_message.callback_data("确认"))
        answer = await tg.wait_callback_answer(update_id)
        await tg.wait_for_call("editMessageText")
    assert answer.params["text"] == "已确认"
    assert answer.params["show_alert"] is True
    assert menu_message.text == "已确认 ✅"
    assert menu_message.reply_markup is None  # editing without a markup drops the keyboard


async def test_media_group_records_each_photo(bot: Bot, tg: FakeTelegram) -> None:
    photos = [b"first-photo-bytes", b"second-photo-bytes"]
    result = await bot.send_media_group(
        CHAT,
        [
            InputMediaPhoto(media=BufferedInputFile(photos[0], "a.jpg"), caption="两张照片"),
            InputMediaPhoto(media=BufferedInputFile(photos[1], "b.jpg")),
        ],
    )

    assert len(result) == 2 and result[0].media_group_id == result[1].media_group_id
    sent = tg.messages_to(CHAT)
    assert [m.file.data if m.file else None for m in sent] == photos
    assert [m.text for m in sent] == ["两张照片", None]
    assert sent[0].media_group_id is not None
    assert {m.media_group_id for m in sent} == {result[0].media_group_id}
    assert len(tg.calls[-1].files) == 2
    # the uploaded bytes are retrievable under the file_id Telegram returned
    assert result[1].photo is not None
    assert tg.stored_files[result[1].photo[-1].file_id] == photos[1]


async def test_injected_errors_map_to_aiogram_exceptions(bot: Bot, tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(CHAT, "a")
    assert retry.value.retry_after == 7

    tg.fail_next("sendMessage", status=403)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(CHAT, "b")

    tg.fail_next("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(CHAT, "c")

    tg.fail_next("sendMessage", status=403, chat_id=CHAT + 1)
    await bot.send_message(CHAT, "d")  # injection is for another chat
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(CHAT + 1, "e")

    assert [m.text for m in tg.sent] == ["d"]
    assert [c.status for c in tg.calls] == [429, 403, 500, 500, 200, 403]


async def test_blocked_chat_answers_403(bot: Bot, tg: FakeTelegram) -> None:
    tg.block(CHAT)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_photo(CHAT, BufferedInputFile(b"x", "x.jpg"))
    await bot.send_message(CHAT + 1, "other chats still work")
    assert [m.chat_id for m in tg.sent] == [CHAT + 1]


async def test_redeliver_hands_the_same_update_twice(bot: Bot, tg: FakeTelegram) -> None:
    seen: asyncio.Queue[int] = asyncio.Queue()
    dp = Dispatcher()

    @dp.message()
    async def record(message: Message, event_update: Update) -> None:
        await seen.put(event_update.update_id)

    user = tg.user(CHAT)
    async with polling(dp, bot, tg):
        update_id = user.send_text("报名")
        assert await asyncio.wait_for(seen.get(), 5) == update_id
        await tg.wait_consumed(update_id)
        tg.redeliver(update_id)
        assert await asyncio.wait_for(seen.get(), 5) == update_id
        await tg.wait_consumed(update_id)
        later = user.send_text("之后")
        assert await asyncio.wait_for(seen.get(), 5) == later
    assert later > update_id
    assert seen.empty()


async def test_get_file_over_20_mb_is_refused(bot: Bot, tg: FakeTelegram) -> None:
    user = tg.user(CHAT)
    big = user.send_document(
        b"%PDF", file_name="报告.pdf", mime_type="application/pdf", file_size=25 * 1024 * 1024
    )
    photo = user.send_photo(b"jpeg", file_size=21 * 1024 * 1024)
    document_id = tg.update(big)["message"]["document"]["file_id"]
    photo_id = tg.update(photo)["message"]["photo"][-1]["file_id"]

    for file_id in (document_id, photo_id):
        with pytest.raises(TelegramBadRequest, match="file is too big"):
            await bot.get_file(file_id)
    small = tg.update(photo)["message"]["photo"][0]["file_id"]
    assert (await bot.get_file(small)).file_path


async def test_edit_message_text_changes_stored_text(bot: Bot, tg: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="刷新", callback_data="refresh")]]
    )
    sent = await bot.send_message(CHAT, "第一版", reply_markup=keyboard)
    edited = await bot.edit_message_text(
        text="第二版", chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard
    )

    assert isinstance(edited, Message) and edited.text == "第二版"
    stored = tg.messages_to(CHAT)[0]
    assert stored.text == "第二版" and len(stored.edits) == 1
    assert stored.callback_data("刷新") == "refresh"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="第二版", chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard
        )
    await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id)
    assert stored.reply_markup is None and len(stored.edits) == 2


async def test_reply_keyboard_and_documents(bot: Bot, tg: FakeTelegram) -> None:
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="分享手机号", request_contact=True)]],
        resize_keyboard=True,
    )
    await bot.send_message(CHAT, "请分享", reply_markup=keyboard, parse_mode="HTML")
    document = await bot.send_document(
        CHAT, BufferedInputFile(b"a,b\n1,2\n", "名单.csv"), caption="名单"
    )

    first, second = tg.messages_to(CHAT)
    assert first.button_texts() == ["分享手机号"] and first.parse_mode == "HTML"
    assert second.file is not None and second.file.file_name == "名单.csv"
    assert document.document is not None and document.document.file_name == "名单.csv"
    with pytest.raises(AssertionError, match="分享手机号"):
        first.callback_data("分享")  # reply keyboards carry no callback data


async def test_user_updates_parse_as_aiogram_models(tg: FakeTelegram) -> None:
    user = tg.user(CHAT, "小红", username="xiaohong")
    update_ids = [
        user.send_text("/help"),
        user.send_voice(b"ogg"),
        user.send_location(30.66, 104.06),
        user.send_contact("+8613800000000"),
        user.send_sticker(),
        user.send_video(),
        user.send_document(b"x", file_name="a.xlsx", mime_type="application/vnd.ms-excel"),
        user.send_photo(b"p", media_group_id="album-1"),
    ]
    messages = [Update.model_validate(tg.update(u)).message for u in update_ids]
    types = [m.content_type if m else None for m in messages]
    assert types == [
        "text",
        "voice",
        "location",
        "contact",
        "sticker",
        "video",
        "document",
        "photo",
    ]
    text, contact = messages[0], messages[3]
    assert text and text.entities and text.entities[0].type == "bot_command"
    assert contact and contact.contact and contact.contact.user_id == CHAT
    assert len(set(update_ids)) == len(update_ids)


async def test_commands_and_unknown_methods(bot: Bot, tg: FakeTelegram) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert tg.commands() == [{"command": "start", "description": "开始"}]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert await bot.send_chat_action(CHAT, "typing") is True
    assert await bot.delete_webhook() is True
    assert await bot.set_chat_menu_button() is True  # unimplemented: recorded, answered true
    assert tg.calls[-1].method == "setChatMenuButton"


async def test_rate_limit_enforcement() -> None:
    async with FakeTelegram(enforce_rate_limit=3) as tg:
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
        async with Bot("42:TEST", session=session) as bot:
            for n in range(3):
                await bot.send_message(CHAT, f"m{n}")
            with pytest.raises(TelegramRetryAfter) as retry:
                await bot.send_message(CHAT, "over the limit")
    assert retry.value.retry_after == 1
    assert tg.rate_limited == 1 and len(tg.sent) == 3


async def test_next_message_timeout_explains_itself(tg: FakeTelegram) -> None:
    user = tg.user(CHAT)
    with pytest.raises(AssertionError, match="no new bot message to user 1001"):
        await user.next_message(timeout=0.05)


async def test_webhook_posts_with_the_secret_retries_a_failure_and_blocks_polling(
    tg: FakeTelegram, bot: Bot
) -> None:
    """Like Telegram: each update POSTed with the secret header, posted again until a 2xx,
    a chat's updates in order; getUpdates refused while the webhook is set."""
    received: list[tuple[int, str | None]] = []
    answers = iter([500, 200, 200, 200])

    async def webhook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((update["update_id"], request.headers.get(SECRET_HEADER)))
        return web.json_response({}, status=next(answers))

    app = web.Application()
    app.router.add_post("/hook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        user = tg.user(CHAT)
        first, second = user.send_text("one"), user.send_text("two")
        other = tg.user(CHAT + 1).send_text("three")
        for update_id in (first, second, other):
            await tg.wait_consumed(update_id)

        assert [r for r in received if r[0] != other] == [
            (first, "s3cret"), (first, "s3cret"), (second, "s3cret"),
        ]  # fmt: skip
        assert [d.status for d in tg.deliveries if d.update_id == first] == [500, 200]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0 and "500" in (info.last_error_message or "")
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()

        await bot.delete_webhook()
        later = user.send_text("four")
        assert [u.update_id for u in await bot.get_updates()] == [later]
        assert len(received) == 4
    finally:
        await runner.cleanup()
