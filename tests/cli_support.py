"""The `guanai` command run in the test's own process, as an operator runs it from a shell.

`main` runs its own event loop, so it runs in a thread while the test's loop (and the fake
Bot API on it) carries on. Each call gets the environment it is given and no other: no
BOT_TOKEN or LANG from the developer's shell and no `.env` (it runs in an empty folder).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from guanai.cli import main
from guanai.settings import Settings

UNSET = ("BOT_TOKEN", "LANG", "LC_ALL")


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


class Guanai:
    def __init__(self, capsys: pytest.CaptureFixture[str], folder: Path, **env: str) -> None:
        self._capsys = capsys
        self._folder = folder
        self.env = env

    async def __call__(self, *argv: str, **env: str) -> Ran:
        """`guanai *argv` with this helper's environment and `env` on top of it."""
        self._capsys.readouterr()  # what came before is not this command's
        with pytest.MonkeyPatch.context() as patch:
            for name in UNSET:
                patch.delenv(name, raising=False)
            for name, value in {**self.env, **env}.items():
                patch.setenv(name, value)
            patch.chdir(self._folder)
            try:
                code = await asyncio.to_thread(main, list(argv))
            except SystemExit as exit_:  # argparse: --help, or arguments it refuses
                code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = self._capsys.readouterr()
        return Ran(code=code, out=out, err=err)


def deployment(settings: Settings) -> dict[str, str]:
    """The environment of the test's deployment (the `settings` fixture), in English."""
    return {
        "BOT_TOKEN": "4242:TEST-TOKEN",
        "BOT_API_URL": settings.bot_api_url,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "MEDIA_DIR": str(settings.media_dir),
        "LANG": "en_US.UTF-8",
    }


async def guanai_process(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """`guanai *args` as a process of its own, as a deployment starts it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guanai.cli",
        *args,
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
