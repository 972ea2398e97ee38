"""Storing a check-in's photos: fetched once, stripped of metadata, hashed and compared.

The chat front keeps only Telegram's file ids; a job then calls `store_photo`. The stored
copy is re-encoded from the pixels alone, so no EXIF (GPS included), comment or XMP of the
volunteer's phone survives, and it lives under the media directory by check-in and photo
id, never by a child's name.

Near-duplicates. A photo whose perceptual hash (imagehash's pHash, 64 bits) lies within
`similarity_threshold` bits of a photo of another check-in sends the later of the two
check-ins ("made later": higher id) for review. A district keeps hundreds of thousands of
photos, so the search must not scan them all: each 16-bit quarter of the hash has an
expression index, and by the pigeonhole principle two hashes within distance d agree on at
least one quarter up to d // 4 bits. The search asks each index for the quarter's values
within that radius (17 values per quarter for d = 6) and checks the exact distance on the
few rows found; it misses nothing within the threshold. Among 500,000 photos that is about
6 ms a search against 140 ms for a full scan, which grows with every photo
(bench/photo_similarity.py). Photos are compared one at a time
(a transaction-level advisory lock) so two copies stored at the same moment still see
each other; whichever is stored second does the flagging, so a pair is flagged once even
when the later check-in's photo is stored first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import enum
import functools
import io
import itertools
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import imagehash
from PIL import ExifTags, Image, ImageOps, PngImagePlugin
from sqlalchemy import Select, cast, func, or_, select
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import review
from domain.models import (
    PHASH_QUARTERS,
    CheckIn,
    Photo,
    PhotoStatus,
    phash_quarter,
)

SIMILAR_PHOTO = review.SIMILAR_PHOTO
PHOTO_FAILED = review.PHOTO_FAILED

# Any constant works; it only has to differ from other advisory locks of the application.
_COMPARE_LOCK = 0x6775_616E_6169_0001
# More matches than this means a run of near-blank photos; the nearest are enough to decide.
_MATCH_LIMIT = 100
_QUARTER_BITS = 64 // PHASH_QUARTERS
# The stored copy's longer side at most, in pixels: what Telegram keeps of a photo.
STORED_SIDE = 2560
# Text chunks of a PNG are read with its header; Pillow allows them 64 MB in all.
PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, 4 * 1024 * 1024)
# Photos are decoded one at a time in a process, always on the same thread: the memory
# malloc keeps for later is then one thread's, not that of every thread that ever decoded.
_DECODER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo")


class DownloadError(Exception):
    """A photo could not be fetched; `reason` is the short code kept in `Photo.error`."""

    reason = "download_failed"


class PhotoTooBig(DownloadError):
    """Telegram refuses files over 20 MB to bots: trying again cannot help."""

    reason = "too_big"


class DownloadFailed(DownloadError):
    """A failure that may pass (network, Telegram's servers): worth another try later."""


class NotAnImage(Exception):
    reason = "not_an_image"


class TooManyPixels(Exception):
    """More pixels than `PhotoPolicy.max_pixels`: refused from the header, never decoded."""

    reason = "too_many_pixels"


class Downloader(Protocol):
    async def download(self, file_id: str) -> bytes:
        """The file's bytes; raises PhotoTooBig or DownloadFailed."""
        ...


@dataclass(frozen=True)
class PhotoPolicy:
    media_dir: Path
    similarity_threshold: int = 6
    max_attempts: int = 5
    first_retry: dt.timedelta = dt.timedelta(seconds=30)
    # A photo of more pixels is refused before decoding; see `_prepare` for the memory.
    max_pixels: int = 20_000_000

    def retry_delay(self, attempt: int) -> dt.timedelta:
        """Waits double after each failed attempt: 1×, 2×, 4× … the first delay."""
        return self.first_retry * (1 << (attempt - 1))


class Outcome(enum.StrEnum):
    stored = "stored"
    retry = "retry"  # not this time: try again after `retry_in`
    failed = "failed"  # reported: the photo is failed and its check-in is for review
    skipped = "skipped"  # already stored or failed before
    missing = "missing"  # no such photo (yet: its check-in may not be committed)


@dataclass(frozen=True)
class StoreResult:
    outcome: Outcome
    retry_in: dt.timedelta | None = None


@dataclass(frozen=True)
class _Prepared:
    jpeg: bytes
    phash: int


async def store_photo(
    session: AsyncSession,
    photo_id: int,
    *,
    downloader: Downloader,
    policy: PhotoPolicy,
    now: dt.datetime,
    tries: int = 1,
) -> StoreResult:
    """Fetch, clean, store, hash and compare one photo; safe to run again for the same photo.

    `tries` is how often the queue has started this job, this run included: it keeps the
    attempt count right when an earlier run died before its transaction was committed.
    """
    photo = await session.get(Photo, photo_id, with_for_update=True)
    if photo is None:
        # The job may start before the check-in that enqueued it has committed: wait a little.
        retry_in = policy.retry_delay(tries) if tries < policy.max_attempts else None
        return StoreResult(Outcome.missing, retry_in=retry_in)
    if photo.status is not PhotoStatus.pending:
        return StoreResult(Outcome.skipped)
    attempt = max(photo.attempts + 1, tries)
    photo.attempts = attempt
    try:
        data = await downloader.download(photo.file_id)
        prepared = await asyncio.get_running_loop().run_in_executor(
            _DECODER, functools.partial(_prepare, data, max_pixels=policy.max_pixels)
        )
    except DownloadFailed as error:
        if attempt < policy.max_attempts:
            photo.error = _error_text(error)
            return StoreResult(Outcome.retry, retry_in=policy.retry_delay(attempt))
        await _fail(session, photo, _error_text(error), now=now)
        return StoreResult(Outcome.failed)
    except (PhotoTooBig, NotAnImage, TooManyPixels) as error:
        await _fail(session, photo, _error_text(error), now=now)
        return StoreResult(Outcome.failed)

    relative = Path("checkins", str(photo.checkin_id), f"{photo.id}.jpg")
    await asyncio.to_thread(_write_atomically, policy.media_dir / relative, prepared.jpeg)
    photo.stored_path = relative.as_posix()
    photo.phash = prepared.phash
    photo.status = PhotoStatus.stored
    photo.error = None
    await _compare(session, photo, threshold=policy.similarity_threshold, now=now)
    return StoreResult(Outcome.stored)


# A photo still pending this long after its check-in was committed may have lost its job
# (the enqueue after the commit failed): the sweep queues it again.
SWEEP_GRACE = dt.timedelta(minutes=2)


async def stranded(
    session: AsyncSession, *, now: dt.datetime, grace: dt.timedelta = SWEEP_GRACE
) -> list[int]:
    """Ids of the photos still pending `grace` after their check-in was committed, oldest
    first. Most have a job queued or waiting to retry; queueing them again under the same
    job id is a no-op for those, so only a photo whose job was lost gets a new one. The
    attempts a photo's jobs count decide when it is given up, not this."""
    rows = await session.scalars(
        select(Photo.id)
        .join(CheckIn, CheckIn.id == Photo.checkin_id)
        .where(Photo.status == PhotoStatus.pending, CheckIn.created_at <= now - grace)
        .order_by(Photo.id)
    )
    return list(rows)


def phash_of(image: Image.Image) -> int:
    """imagehash's pHash as the signed 64-bit integer PostgreSQL's BIGINT holds."""
    value = int(str(imagehash.phash(image)), 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _prepare(data: bytes, *, max_pixels: int) -> _Prepared:
    """Upright pixels only: turned as the EXIF orientation says, then saved without metadata.

    Memory is what a hostile photo attacks: a PNG of 20 KB can hold 169 megapixels, over
    a gigabyte once decoded. So the size is read from the header and checked before a
    pixel is decoded. A JPEG larger than the stored copy is decoded at 1/2 to 1/8 of its
    size (its DCT allows that for free), and the decoded size is what counts against
    `max_pixels` (Pillow keeps 4 bytes a pixel for colour). The copy kept has its longer
    side at most `STORED_SIDE` long, as Telegram keeps photos; a larger image is shrunk
    strip by strip, so no second full-size image is ever made.
    """
    try:
        with Image.open(io.BytesIO(data)) as original:
            width, height = original.size
            original.draft("RGB", _fitted(width, height))  # JPEG only: a reduced scale
            if original.width * original.height > max_pixels:
                raise TooManyPixels(f"{width}x{height}")
            original.load()
            factor = -(-max(original.size) // STORED_SIDE)  # rounded up
            if factor == 1:
                image = ImageOps.exif_transpose(original).convert("RGB")
            else:
                small = _shrunk(original, factor)
                orientation = original.getexif().get(ExifTags.Base.Orientation)
                if orientation is not None:
                    small.getexif()[ExifTags.Base.Orientation] = orientation
                image = ImageOps.exif_transpose(small)
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own guard, far above ours
        raise TooManyPixels() from error
    except Exception as error:  # Pillow's decoders raise many kinds of error on broken files
        raise NotAnImage(type(error).__name__) from error
    # Pillow writes a JPEG comment taken from `info` unless told otherwise: drop everything.
    image.info = {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=b"")
    return _Prepared(jpeg=out.getvalue(), phash=phash_of(image))


def _fitted(width: int, height: int) -> tuple[int, int]:
    """The size within `STORED_SIDE` × `STORED_SIDE`, shape kept."""
    longer = max(width, height)
    if longer <= STORED_SIDE:
        return width, height
    return max(1, width * STORED_SIDE // longer), max(1, height * STORED_SIDE // longer)


def _shrunk(image: Image.Image, factor: int) -> Image.Image:
    """`image` in RGB, `factor` times smaller each way (each pixel the mean of a block).

    Made a strip of about a megapixel at a time: converting or resizing the whole image
    would make a second copy of it (for transparency Pillow makes one even to resize).
    """
    width, height = image.size
    small = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, 1_000_000 // (width * factor))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height))).convert("RGB")
        small.paste(strip.reduce(factor), (0, top // factor))
    return small


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a rerun replaces the file, never adds one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _error_text(error: Exception) -> str:
    reason = getattr(error, "reason", type(error).__name__)
    detail = str(error)
    return (f"{reason}: {detail}" if detail else reason)[:255]


async def _fail(session: AsyncSession, photo: Photo, error: str, *, now: dt.datetime) -> None:
    photo.status = PhotoStatus.failed
    photo.error = error
    await _mark_for_review(
        session,
        photo.checkin_id,
        PHOTO_FAILED,
        now=now,
        details={"photo_id": photo.id, "error": error.partition(":")[0]},
    )


async def _compare(
    session: AsyncSession, photo: Photo, *, threshold: int, now: dt.datetime
) -> None:
    """Flag the later check-in of every pair this photo forms with a near-identical one."""
    assert photo.phash is not None
    await session.execute(select(func.pg_advisory_xact_lock(_COMPARE_LOCK)))
    rows = await session.execute(
        near_duplicates(photo.phash, threshold=threshold, other_than_checkin=photo.checkin_id)
    )
    for found in resemblances(photo.id, photo.checkin_id, rows):
        await _mark_for_review(
            session,
            found.later_checkin_id,
            SIMILAR_PHOTO,
            now=now,
            details={
                "photo_id": found.photo_id,
                "similar_photo_id": found.similar_photo_id,
                "similar_checkin_id": found.similar_checkin_id,
                "distance": found.distance,
            },
        )


@dataclass(frozen=True)
class Resemblance:
    """Two check-ins with near-identical photos: the later one goes for review."""

    later_checkin_id: int
    photo_id: int  # the later check-in's photo
    similar_checkin_id: int
    similar_photo_id: int
    distance: int  # bits of 64 that differ


def resemblances(
    photo_id: int, checkin_id: int, matches: Iterable[tuple[int, int, int]]
) -> list[Resemblance]:
    """What a new photo's matches (photo id, check-in id, distance; nearest first) flag:
    the later check-in of each pair, once, beside the nearest photo that resembles it."""
    flagged: dict[int, Resemblance] = {}
    for match_id, match_checkin_id, distance in matches:
        if match_checkin_id < checkin_id:
            found = Resemblance(checkin_id, photo_id, match_checkin_id, match_id, int(distance))
        else:
            found = Resemblance(match_checkin_id, match_id, checkin_id, photo_id, int(distance))
        flagged.setdefault(found.later_checkin_id, found)
    return list(flagged.values())


def near_duplicates(
    phash: int, *, threshold: int, other_than_checkin: int
) -> Select[int, int, int]:
    """Stored photos of other check-ins within `threshold` bits, nearest first.

    Rows are (photo id, check-in id, distance): index probes for each quarter's values near
    the hash's own, then the exact distance on the few rows found.
    """
    distance = func.bit_count(cast(Photo.phash.op("#")(phash), BIT(64)))
    radius = threshold // PHASH_QUARTERS
    near = or_(
        *(
            phash_quarter(q).in_(_within(_quarter_of(phash, q), radius))
            for q in range(PHASH_QUARTERS)
        )
    )
    return (
        select(Photo.id, Photo.checkin_id, distance.label("distance"))
        .where(
            Photo.phash.is_not(None),
            Photo.checkin_id != other_than_checkin,
            near,
            distance <= threshold,
        )
        .order_by(distance, Photo.checkin_id)
        .limit(_MATCH_LIMIT)
    )


def _quarter_of(phash: int, quarter: int) -> int:
    return (phash >> (_QUARTER_BITS * quarter)) & ((1 << _QUARTER_BITS) - 1)


def _within(value: int, radius: int) -> list[int]:
    """Every value of a quarter that differs from `value` in at most `radius` bits."""
    return [
        value ^ sum(1 << bit for bit in bits)
        for flips in range(radius + 1)
        for bits in itertools.combinations(range(_QUARTER_BITS), flips)
    ]


async def _mark_for_review(
    session: AsyncSession,
    checkin_id: int,
    reason: str,
    *,
    now: dt.datetime,
    details: dict[str, int | str],
) -> None:
    """Put a check-in before its coordinator (the site's review queue)."""
    await review.flag(session, checkin_id, reason, now=now, details=details)
