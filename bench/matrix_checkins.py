"""Benchmark: a check-in's round trip on Matrix against a local Synapse, beside the same
on Telegram's fake, through one `guanai run` process with both fronts (and its worker).

Each volunteer checks in a home visit with two photos and the five answers, one volunteer
at a time (the round trip is what a person waits, not throughput: bench/checkins.py
measures that): on Telegram as bench/checkins.py taps it, on Matrix as tests/matrix_people
writes it (a second matrix-nio client; plain direct chats unless --encrypted). Prints the
median and 95th percentile of each, from "check in" to "saved", and the process's memory
(VmHWM, VmRSS) with both fronts running.

    uv run python bench/matrix_checkins.py [--volunteers 20] [--encrypted]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

from PIL import Image
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.checkins import (
    FIRST_TELEGRAM_ID,
    REDIS_URL,
    SERVER,
    BenchTelegram,
    BotProcess,
    Driver,
    _admin,
    seed,
)
from domain.db import make_engine
from domain.models import Account, Channel, CheckIn, Person
from guanai.migrate import migrate
from tests.matrix_people import Person as MatrixPerson
from tests.synapse_server import Synapse
from tests.test_matrix_journeys import send_image

GUANAI_RUN = ("-m", "guanai.cli", "run")


def _jpeg(seed_value: int) -> bytes:
    picture = Image.new("RGB", (320, 240), (seed_value * 37 % 256, 90, seed_value * 11 % 256))
    out = io.BytesIO()
    picture.save(out, format="JPEG")
    return out.getvalue()


async def matrix_check_in(person: MatrixPerson, bot: str, room: str, *, encrypted: bool) -> float:
    async def answer_to(send: object) -> str:
        before = len(person.texts_from(room, bot))
        await send  # type: ignore[misc]
        await person.wait_until(lambda: len(person.texts_from(room, bot)) > before, "an answer")
        return person.texts_from(room, bot)[before]

    await answer_to(person.say(room, "你好"))  # the menu, as Telegram's keyboard is there
    started = time.perf_counter()
    await answer_to(person.say(room, "2"))
    await answer_to(person.say(room, "1"))
    for n in range(2):
        await answer_to(send_image(person, room, _jpeg(n + ord(room[1])), encrypted=encrypted))
    for _question in range(5):
        await answer_to(person.say(room, "1"))
    saved = await answer_to(person.say(room, "1"))
    elapsed = time.perf_counter() - started
    if "已保存" not in saved:
        raise AssertionError(f"no confirmation: {saved!r}")
    return elapsed


def _summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{name:10} median {statistics.median(ms):8.0f} ms   p95 {p95:8.0f} ms   (n={len(ms)})"


async def run(volunteers: int, encrypted: bool) -> None:
    run_id = uuid.uuid4().hex[:8]
    db_name = f"guanai_mbench_{run_id}"
    database_url = f"{SERVER}/{db_name}"
    await migrate(database_url)
    await seed(database_url, volunteers)
    synapse = Synapse()
    await synapse.start()
    fake = BenchTelegram()
    await fake.start()
    bot_user = await synapse.register(f"guanai-{run_id}")
    users = [await synapse.register(f"v{n}-{run_id}") for n in range(volunteers)]
    engine = make_engine(database_url, pool_size=1)
    async with engine.begin() as connection:
        person_ids = list(await connection.scalars(select(Person.id).order_by(Person.id)))
        await connection.execute(
            insert(Account),
            [
                {"person_id": pid, "channel": Channel.matrix, "external_id": user.user_id}
                for pid, user in zip(person_ids, users, strict=True)
            ],
        )
    store = Path(f"/tmp/{db_name}")
    process = BotProcess(
        {
            "BOT_TOKEN": "4242:BENCH",
            "BOT_API_URL": fake.base_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": f"guanai_mbench_{run_id}",
            "MEDIA_DIR": str(store / "media"),
            "MATRIX_HOMESERVER": synapse.url,
            "MATRIX_USER": bot_user.user_id,
            "MATRIX_PASSWORD": bot_user.password,
            "MATRIX_STORE_DIR": str(store / "matrix"),
        },
        GUANAI_RUN,
    )
    try:
        await process.start(fake)
        await synapse.wait_for_device_keys(bot_user.user_id, asking=users[0])
        telegram: list[float] = []
        for n in range(volunteers):
            driver = Driver(fake, FIRST_TELEGRAM_ID + n)
            started = time.perf_counter()
            await driver.check_in()
            telegram.append(time.perf_counter() - started)
        matrix: list[float] = []
        for n, user in enumerate(users):
            person = MatrixPerson(synapse, user, store / f"person{n}")
            await person.open()
            try:
                room = await person.direct_chat_with(bot_user.user_id, encrypted=encrypted)
                matrix.append(
                    await matrix_check_in(person, bot_user.user_id, room, encrypted=encrypted)
                )
            finally:
                await person.close()
        rss = next(x for x in process._proc("status").splitlines() if x.startswith("VmRSS:"))
        async with engine.connect() as connection:
            stored = await connection.scalar(select(func.count()).select_from(CheckIn))
        print(f"check-ins stored: {stored} ({'encrypted' if encrypted else 'plain'} Matrix chats)")
        print(_summary("Telegram", telegram))
        print(_summary("Matrix", matrix))
        print(f"guanai run (both fronts + worker): peak {process.peak_mb():.0f} MB, {rss}")
    finally:
        print(f"exit status: {await process.stop()}")
        await fake.stop()
        await synapse.stop()
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument("--encrypted", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.volunteers, args.encrypted))


if __name__ == "__main__":
    main()
