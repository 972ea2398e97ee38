"""Photos a front fetched when they arrived, kept under MEDIA_DIR until the photo job
cleans and stores them like any other.

Telegram keeps a sent file for the job to fetch later by its id; a Matrix front fetches
the image itself (it holds the login, and an encrypted chat's key is in the message), so
it stages the bytes here and names them `staged:<sha256>`. The job's downloader reads a
staged id here and hands any other to the front's own (`StagedOr`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.care.photos import Downloader  # the imaging libraries: never in a front

PREFIX = "staged:"
FOLDER = "inbox"


def _path(media_dir: Path, digest: str) -> Path:
    return media_dir / FOLDER / digest


async def stage(media_dir: Path, data: bytes) -> tuple[str, str]:
    """Keeps the bytes; returns the file id to record and their digest (the same picture
    sent twice is one photo of the check-in)."""
    digest = hashlib.sha256(data).hexdigest()

    def write() -> None:
        path = _path(media_dir, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    await asyncio.to_thread(write)
    return f"{PREFIX}{digest}", digest


class StagedOr:
    """A downloader for the photo job: staged files from MEDIA_DIR, others from `other`."""

    def __init__(self, media_dir: Path, other: Downloader) -> None:
        self._media_dir = media_dir
        self._other = other

    async def download(self, file_id: str) -> bytes:
        if not file_id.startswith(PREFIX):
            return await self._other.download(file_id)
        from domain.care.photos import DownloadFailed

        digest = file_id.removeprefix(PREFIX)
        if not digest.isalnum():
            raise DownloadFailed("not a staged file's id")
        try:
            return await asyncio.to_thread(_path(self._media_dir, digest).read_bytes)
        except OSError as error:
            raise DownloadFailed(f"staged file missing: {type(error).__name__}") from error
