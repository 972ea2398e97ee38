"""Check-in photos: downloaded through the fake Bot API, cleaned, hashed, compared, reported.

The job runs against real PostgreSQL, either called with a worker's ctx (fast, and lets a
test read the Retry it raises) or through a real arq burst worker on Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import random
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from arq import Retry, create_pool
from arq.connections import ArqRedis, RedisSettings
from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageOps
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.telegram.front import TelegramFront
from domain.care import photos
from domain.care.photos import PHOTO_FAILED, SIMILAR_PHOTO, STORED_SIDE, phash_of
from domain.clock import FixedClock
from domain.models import AuditEntry, CheckIn, Photo, PhotoStatus, ReviewStatus
from guanai.settings import Settings
from guanai.wiring import make_worker
from tests.cli_support import Guanai, deployment
from tests.factories import make_checkin, make_photo
from tests.fakes import FakeTelegram
from tests.fakes.telegram import MAX_DOWNLOAD_SIZE
from workers import jobs
from workers.context import Deps
from workers.enqueue import store_photo_later
from workers.periodic import run_once

# ---------------------------------------------------------------------- images


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A soft picture of coloured blobs: different seeds give unrelated pictures."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(60, 300), rng.randrange(60, 300)
        draw.ellipse((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(4))


def jpeg(image: Image.Image, *, quality: int = 90, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **params)
    return out.getvalue()


def png_bomb(width: int = 13_000, height: int = 13_000) -> bytes:
    """A black 1-bit PNG of `width` × `height` pixels, written directly: about 20 KB on the
    wire, but 169 megapixels once decoded (a gigabyte and more as RGB copies)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def largest_legal_photo() -> bytes:
    """20 megapixels with transparency, 19 MB: the most memory a photo under the limits
    may take (4 bytes a pixel decoded, and a copy for any resizing Pillow does itself)."""
    image = Image.merge("RGBA", [Image.linear_gradient("L").resize((5400, 3700))] * 4)
    noise = Image.frombytes("RGBA", (2400, 1900), random.Random(5).randbytes(2400 * 1900 * 4))
    image.paste(noise, (10, 10))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def phone_photo() -> bytes:
    """Red left half, blue right half, taken sideways: EXIF says turn it, and where it was."""
    image = Image.new("RGB", (600, 400), "red")
    ImageDraw.Draw(image).rectangle((300, 0, 600, 400), fill="blue")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90° clockwise
    exif[ExifTags.Base.Make] = "GuanaiPhone"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (28.0, 27.0, 11.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (108.0, 59.0, 42.0),
        }
    )
    data = jpeg(image, exif=exif, comment=b"home of child 7")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def photo_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"photo_max_attempts": 3, "photo_retry_seconds": 30.0})


@pytest.fixture
async def ctx(
    photo_settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
) -> AsyncIterator[dict[str, Any]]:
    """What the worker's on_startup puts in ctx, for calling the job directly."""
    deps = Deps(photo_settings, sessionmaker, clock, TelegramFront(photo_settings, sessionmaker))
    yield {"deps": deps, "job_try": 1}
    await deps.close()


@pytest.fixture
async def arq_redis(photo_settings: Settings, redis: Redis) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(photo_settings.redis_url))
    yield pool
    await pool.aclose()
    # arq's own keys (arq:job:…, arq:result:…) hold the prefix only inside the job id
    keys = [key async for key in redis.scan_iter(match=f"arq:*{photo_settings.redis_prefix}*")]
    if keys:
        await redis.delete(*keys)


async def add_photo(
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    data: bytes,
    *,
    file_size: int | None = None,
    checkin_id: int | None = None,
) -> Photo:
    """A user's photo at the fake Bot API and its row, as the check-in flow commits it."""
    file_id, file_unique_id = fake.store_file("photo", data, file_size=file_size)
    async with sessionmaker() as session:
        checkin = (
            await session.get_one(CheckIn, checkin_id)
            if checkin_id
            else await make_checkin(session)
        )
        photo = await make_photo(
            session,
            checkin=checkin,
            file_id=file_id,
            file_unique_id=file_unique_id,
            file_size=file_size or len(data),
        )
        await session.commit()
    return photo


async def store(ctx: dict[str, Any], photo: Photo, *, job_try: int = 1) -> str:
    return await jobs.store_photo(ctx | {"job_try": job_try}, photo.id)


async def reload(sessionmaker: async_sessionmaker[AsyncSession], photo: Photo) -> Photo:
    async with sessionmaker() as session:
        return await session.get_one(Photo, photo.id)


async def checkin_of(sessionmaker: async_sessionmaker[AsyncSession], photo: Photo) -> CheckIn:
    async with sessionmaker() as session:
        return await session.get_one(CheckIn, photo.checkin_id)


async def review_entries(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[AuditEntry]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "checkin.review").order_by(AuditEntry.id)
        )
        return list(rows)


def stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.media_dir.rglob("*") if p.is_file())


def get_file_calls(fake: FakeTelegram) -> int:
    return sum(1 for call in fake.calls if call.method == "getFile")


async def run_burst_worker(settings: Settings, clock: FixedClock) -> None:
    worker = make_worker(settings, clock=clock, burst=True, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()


# ---------------------------------------------------------------------- the stored copy


async def test_the_stored_copy_is_upright_without_metadata_and_hashed(
    ctx: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    photo_settings: Settings,
) -> None:
    data = phone_photo()
    photo = await add_photo(sessionmaker, fake_telegram, data)

    assert await store(ctx, photo) == "stored"

    photo = await reload(sessionmaker, photo)
    assert photo.status is PhotoStatus.stored and photo.attempts == 1
    assert photo.stored_path == f"checkins/{photo.checkin_id}/{photo.id}.jpg"
    saved = (photo_settings.media_dir / photo.stored_path).read_bytes()
    image = Image.open(io.BytesIO(saved))
    assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
    assert b"GuanaiPhone" not in saved and b"home of child" not in saved
    # turned clockwise: the red left half is now on top
    assert image.size == (400, 600)
    red, _, blue = image.getpixel((200, 100))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _, blue = image.getpixel((200, 500))  # type: ignore[misc]
    assert red < 60 and blue > 200
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert photo.phash == phash_of(upright.convert("RGB"))
    assert (await checkin_of(sessionmaker, photo)).review is ReviewStatus.none


# ---------------------------------------------------------------------- near-duplicates


async def test_the_same_photo_in_a_later_checkin_goes_for_review_through_the_worker(
    arq_redis: ArqRedis,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    clock: FixedClock,
) -> None:
    data = jpeg(scene(1))
    first = await add_photo(sessionmaker, fake_telegram, data)
    later = await add_photo(sessionmaker, fake_telegram, data)  # another child's check-in
    # queued later first, and twice: the worker may well store the later copy first
    for photo in (later, first, later):
        await store_photo_later(arq_redis, photo_settings, photo.id)

    await run_burst_worker(photo_settings, clock)

    assert (await reload(sessionmaker, first)).status is PhotoStatus.stored
    assert (await reload(sessionmaker, later)).status is PhotoStatus.stored
    assert (await checkin_of(sessionmaker, first)).review is ReviewStatus.none
    flagged = await checkin_of(sessionmaker, later)
    assert (flagged.review, flagged.review_reason) == (ReviewStatus.pending, SIMILAR_PHOTO)
    [entry] = await review_entries(sessionmaker)
    assert entry.subject_id == later.checkin_id
    assert entry.details == {
        "reason": SIMILAR_PHOTO,
        "photo_id": later.id,
        "similar_photo_id": first.id,
        "similar_checkin_id": first.checkin_id,
        "distance": 0,
    }


@pytest.mark.parametrize(
    ("variant", "flagged"),
    [
        (lambda image: jpeg(image.resize((480, 360)), quality=55), True),
        (lambda image: jpeg(scene(101)), False),
    ],
    ids=["resized-and-recompressed", "unrelated"],
)
async def test_a_nearly_identical_photo_is_flagged_and_an_unrelated_one_is_not(
    ctx: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    variant: Any,
    flagged: bool,
) -> None:
    original = scene(1)
    first = await add_photo(sessionmaker, fake_telegram, jpeg(original))
    second = await add_photo(sessionmaker, fake_telegram, variant(original))

    await store(ctx, first)
    await store(ctx, second)

    review = (await checkin_of(sessionmaker, second)).review
    assert review is (ReviewStatus.pending if flagged else ReviewStatus.none)
    assert len(await review_entries(sessionmaker)) == int(flagged)


async def test_the_later_checkin_is_flagged_whichever_photo_is_stored_first(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    data = jpeg(scene(2))
    first = await add_photo(sessionmaker, fake_telegram, data)
    later = await add_photo(sessionmaker, fake_telegram, data)

    await store(ctx, later)
    assert (await checkin_of(sessionmaker, later)).review is ReviewStatus.none
    await store(ctx, first)

    assert (await checkin_of(sessionmaker, first)).review is ReviewStatus.none
    assert (await checkin_of(sessionmaker, later)).review is ReviewStatus.pending
    [entry] = await review_entries(sessionmaker)
    assert entry.subject_id == later.checkin_id
    assert entry.details is not None and entry.details["similar_photo_id"] == first.id


async def test_two_like_photos_of_one_checkin_are_no_reason_for_review(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    data = jpeg(scene(3))
    one = await add_photo(sessionmaker, fake_telegram, data)
    two = await add_photo(sessionmaker, fake_telegram, data, checkin_id=one.checkin_id)

    await store(ctx, one)
    await store(ctx, two)

    assert (await checkin_of(sessionmaker, one)).review is ReviewStatus.none


def _bits(*per_quarter: int) -> int:
    """A mask flipping the given number of bits in each 16-bit quarter of a hash."""
    mask = 0
    for quarter, count in enumerate(per_quarter):
        for bit in range(count):
            mask |= 1 << (16 * quarter + 2 * bit)
    return mask


@pytest.mark.parametrize(
    ("mask", "flagged"),
    [
        (_bits(6), True),  # every difference in one quarter: the others match exactly
        (_bits(2, 2, 2), True),
        (_bits(2, 2, 1, 1), True),  # no quarter matches exactly: found within one bit
        (_bits(2, 2, 2, 1), False),  # 7 bits: over the threshold
        (_bits(0, 0, 0, 7), False),
    ],
    ids=["6-in-one-quarter", "6-over-three", "6-over-four", "7-over-four", "7-in-one-quarter"],
)
async def test_the_indexed_search_finds_every_photo_within_the_threshold(
    ctx: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    mask: int,
    flagged: bool,
) -> None:
    image = scene(4)
    earlier_hash = phash_of(image) ^ mask  # masks stay below bit 63: the sign is kept
    async with sessionmaker() as session:
        earlier = await make_photo(session, status=PhotoStatus.stored, phash=earlier_hash)
        await session.commit()
    png = io.BytesIO()
    image.save(png, "PNG")  # lossless, so the stored hash is exactly phash_of(image)
    new = await add_photo(sessionmaker, fake_telegram, png.getvalue())
    assert ctx["deps"].settings.photo_similarity_threshold == 6

    await store(ctx, new)

    assert (await reload(sessionmaker, new)).phash == phash_of(image)
    entries = await review_entries(sessionmaker)
    assert [e.details["similar_photo_id"] for e in entries if e.details] == (
        [earlier.id] if flagged else []
    )


async def test_running_the_job_twice_stores_one_file_and_one_flag(
    ctx: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    photo_settings: Settings,
) -> None:
    data = jpeg(scene(5))
    first = await add_photo(sessionmaker, fake_telegram, data)
    later = await add_photo(sessionmaker, fake_telegram, data)
    await store(ctx, first)

    assert await store(ctx, later) == "stored"
    assert await store(ctx, later) == "skipped"

    assert len(await review_entries(sessionmaker)) == 1
    assert {p.name for p in stored_files(photo_settings)} == {f"{first.id}.jpg", f"{later.id}.jpg"}
    assert (await reload(sessionmaker, later)).attempts == 1


# ---------------------------------------------------------------------- failures


async def test_a_photo_too_big_to_download_fails_at_once_and_is_reported(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    photo = await add_photo(
        sessionmaker, fake_telegram, jpeg(scene(6)), file_size=MAX_DOWNLOAD_SIZE + 1
    )

    assert await store(ctx, photo) == "failed"  # no Retry raised

    photo = await reload(sessionmaker, photo)
    assert photo.status is PhotoStatus.failed and photo.attempts == 1
    assert photo.error is not None and photo.error.startswith("too_big")
    assert get_file_calls(fake_telegram) == 1
    checkin = await checkin_of(sessionmaker, photo)
    assert (checkin.review, checkin.review_reason) == (ReviewStatus.pending, PHOTO_FAILED)
    [entry] = await review_entries(sessionmaker)
    assert entry.details == {"reason": PHOTO_FAILED, "photo_id": photo.id, "error": "too_big"}


async def test_a_failing_download_is_retried_later_and_later_then_reported(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(scene(7)))
    fake_telegram.fail_next("getFile", status=500, times=3)

    delays = []
    for job_try in (1, 2):
        with pytest.raises(Retry) as retry:
            await store(ctx, photo, job_try=job_try)
        delays.append(retry.value.defer_score)
        assert (await checkin_of(sessionmaker, photo)).review is ReviewStatus.none
    assert delays == [30_000, 60_000]  # PHOTO_RETRY_SECONDS, then twice that

    assert await store(ctx, photo, job_try=3) == "failed"
    photo = await reload(sessionmaker, photo)
    assert (photo.status, photo.attempts) == (PhotoStatus.failed, 3)
    assert photo.error is not None and photo.error.startswith("download_failed")
    assert (await checkin_of(sessionmaker, photo)).review_reason == PHOTO_FAILED


@pytest.mark.parametrize(("failures", "status"), [(2, PhotoStatus.stored), (9, PhotoStatus.failed)])
async def test_the_worker_retries_a_500_until_it_passes_or_attempts_run_out(
    arq_redis: ArqRedis,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    clock: FixedClock,
    failures: int,
    status: PhotoStatus,
) -> None:
    settings = photo_settings.model_copy(update={"photo_retry_seconds": 0.01})
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(scene(8)))
    fake_telegram.fail_next("getFile", status=500, times=failures)
    await store_photo_later(arq_redis, settings, photo.id)

    await run_burst_worker(settings, clock)

    photo = await reload(sessionmaker, photo)
    assert (photo.status, photo.attempts) == (status, 3)
    assert get_file_calls(fake_telegram) == 3
    review = (await checkin_of(sessionmaker, photo)).review_reason
    assert review == (PHOTO_FAILED if status is PhotoStatus.failed else None)


async def test_a_file_that_is_no_image_is_reported_without_retrying(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    photo = await add_photo(sessionmaker, fake_telegram, b"%PDF-1.7 not a picture")

    assert await store(ctx, photo) == "failed"

    photo = await reload(sessionmaker, photo)
    assert photo.error is not None and photo.error.startswith("not_an_image")
    assert (await checkin_of(sessionmaker, photo)).review_reason == PHOTO_FAILED


async def test_a_job_for_a_photo_not_yet_committed_waits_then_gives_up(
    ctx: dict[str, Any],
) -> None:
    with pytest.raises(Retry):
        await jobs.store_photo(ctx, 424242)
    assert await jobs.store_photo(ctx | {"job_try": 3}, 424242) == "missing"


# ---------------------------------------------------------------------- hostile photos


async def test_a_photo_of_too_many_pixels_is_refused_before_it_is_decoded(
    ctx: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession], fake_telegram: FakeTelegram
) -> None:
    settings: Settings = ctx["deps"].settings
    ctx["deps"].settings = settings.model_copy(update={"photo_max_pixels": 640 * 480 - 1})
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(scene(9)))

    assert await store(ctx, photo) == "failed"  # no Retry: another try cannot help

    photo = await reload(sessionmaker, photo)
    assert photo.status is PhotoStatus.failed and photo.attempts == 1
    assert photo.error is not None and photo.error.startswith("too_many_pixels")
    assert (await checkin_of(sessionmaker, photo)).review_reason == PHOTO_FAILED
    [entry] = await review_entries(sessionmaker)
    assert entry.details == {
        "reason": PHOTO_FAILED,
        "photo_id": photo.id,
        "error": "too_many_pixels",
    }


async def test_the_worker_stays_small_when_an_album_of_decompression_bombs_arrives(
    arq_redis: ArqRedis,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
) -> None:
    """Three 20 KB PNGs of 13,000 × 13,000 pixels in one album, and three of the largest
    photos allowed in another, all queued at once for one worker process."""
    bomb = png_bomb()
    first = await add_photo(sessionmaker, fake_telegram, bomb)
    album = [first] + [
        await add_photo(sessionmaker, fake_telegram, bomb, checkin_id=first.checkin_id)
        for _ in range(2)
    ]
    legal = largest_legal_photo()
    large = [await add_photo(sessionmaker, fake_telegram, legal + bytes([n])) for n in range(3)]
    for photo in (*album, *large):
        await store_photo_later(arq_redis, photo_settings, photo.id)
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:TEST-TOKEN",
        "BOT_API_URL": fake_telegram.base_url,
        "DATABASE_URL": photo_settings.database_url,
        "REDIS_URL": photo_settings.redis_url,
        "REDIS_PREFIX": photo_settings.redis_prefix,
        "MEDIA_DIR": str(photo_settings.media_dir),
        "PHOTO_MAX_ATTEMPTS": str(photo_settings.photo_max_attempts),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.photo_worker",
        env=env,
        cwd=Path(__file__).parent.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
    assert worker.returncode == 0, err.decode()[-2000:]

    peak_mb = int(out.decode().split()[-1]) / 1024
    assert peak_mb < 300, f"the worker peaked at {peak_mb:.0f} MB"
    for photo in album:
        photo = await reload(sessionmaker, photo)
        assert photo.status is PhotoStatus.failed, photo.error
        assert photo.error is not None and photo.error.startswith("too_many_pixels")
    assert (await checkin_of(sessionmaker, first)).review_reason == PHOTO_FAILED
    for photo in large:
        photo = await reload(sessionmaker, photo)
        assert photo.status is PhotoStatus.stored, photo.error
        assert photo.stored_path is not None
        stored = Image.open(photo_settings.media_dir / photo.stored_path)
        assert stored.size == (1800, 1234)  # a third: the longer side within STORED_SIDE


async def test_a_large_photo_is_stored_smaller_and_still_upright(
    ctx: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    photo_settings: Settings,
) -> None:
    image = Image.new("RGB", (6000, 400), "red")
    ImageDraw.Draw(image).rectangle((3000, 0, 6000, 400), fill="blue")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90° clockwise
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(image, exif=exif))

    assert await store(ctx, photo) == "stored"

    photo = await reload(sessionmaker, photo)
    assert photo.stored_path is not None
    stored = Image.open(photo_settings.media_dir / photo.stored_path)
    assert max(stored.size) <= STORED_SIDE and stored.size[0] < stored.size[1]
    assert not stored.getexif()
    red, _, blue = stored.getpixel((stored.width // 2, stored.height // 4))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _, blue = stored.getpixel((stored.width // 2, stored.height * 3 // 4))  # type: ignore[misc]
    assert red < 60 and blue > 200


# ---------------------------------------------------------------------- the sweep


async def committed_at(sessionmaker: async_sessionmaker[AsyncSession], photo: Photo) -> dt.datetime:
    return (await checkin_of(sessionmaker, photo)).created_at


async def sweep(
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    at: dt.datetime,
) -> dict[str, int]:
    deps = Deps(photo_settings, sessionmaker, clock, TelegramFront(photo_settings, sessionmaker))
    try:
        return dict(await run_once(deps, "photo-sweep", now=at, scope=None))
    finally:
        await deps.close()


async def test_a_photo_whose_job_was_lost_is_stored_after_one_sweep(
    arq_redis: ArqRedis,
    guanai: Guanai,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    clock: FixedClock,
) -> None:
    """The check-in committed, then its photo's enqueue failed: no job, the row pending."""
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(scene(30)))
    committed = await committed_at(sessionmaker, photo)
    guanai.env.update(deployment(photo_settings))

    # within the grace period the job may still be on its way: left alone
    at = (committed + dt.timedelta(minutes=1)).isoformat()
    early = await guanai("jobs", "run", "photo-sweep", "--now", at)
    assert (early.code, early.out.strip()) == (0, "photo-sweep done: pending 0, queued 0")
    await run_burst_worker(photo_settings, clock)
    assert (await reload(sessionmaker, photo)).status is PhotoStatus.pending

    at = (committed + photos.SWEEP_GRACE + dt.timedelta(seconds=1)).isoformat()
    swept = await guanai("jobs", "run", "photo-sweep", "--now", at)
    assert (swept.code, swept.out.strip()) == (0, "photo-sweep done: pending 1, queued 1")
    await run_burst_worker(photo_settings, clock)

    stored = await reload(sessionmaker, photo)
    assert (stored.status, stored.attempts) == (PhotoStatus.stored, 1)
    assert stored_files(photo_settings) == [photo_settings.media_dir / str(stored.stored_path)]


async def test_a_photo_already_queued_is_not_queued_twice_by_the_sweep(
    arq_redis: ArqRedis,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    clock: FixedClock,
) -> None:
    photo = await add_photo(sessionmaker, fake_telegram, jpeg(scene(31)))
    assert await store_photo_later(arq_redis, photo_settings, photo.id)
    later = await committed_at(sessionmaker, photo) + dt.timedelta(hours=1)

    assert await sweep(photo_settings, sessionmaker, clock, later) == {"pending": 1, "queued": 0}
    await run_burst_worker(photo_settings, clock)

    assert (await reload(sessionmaker, photo)).status is PhotoStatus.stored
    assert get_file_calls(fake_telegram) == 1


async def test_the_sweep_leaves_stored_and_failed_photos_alone(
    arq_redis: ArqRedis,
    photo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
    clock: FixedClock,
) -> None:
    async with sessionmaker() as session:
        checkin = await make_checkin(session)
        done = [
            await make_photo(session, checkin=checkin, status=PhotoStatus.stored, attempts=1),
            await make_photo(
                session, checkin=checkin, status=PhotoStatus.failed, attempts=3, error="too_big"
            ),
        ]
        await session.commit()
    later = checkin.created_at + dt.timedelta(hours=1)

    assert await sweep(photo_settings, sessionmaker, clock, later) == {"pending": 0, "queued": 0}
    await run_burst_worker(photo_settings, clock)

    for photo in done:
        again = await reload(sessionmaker, photo)
        assert (again.status, again.attempts, again.error) == (
            photo.status,
            photo.attempts,
            photo.error,
        )
    assert get_file_calls(fake_telegram) == 0
    assert await arq_redis.zcard(photo_settings.arq_queue) == 0
