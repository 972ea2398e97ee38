"""Private Redis and PostgreSQL servers that a test may stop and start again.

The shared servers (5432, 6379) serve every helper and test run on the machine and are
never stopped; a test that needs an outage starts its own instance on a free port, in a
directory of its own, and takes it down and up as it likes. Every call is asynchronous:
the fake Bot API runs on the test's event loop and must keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({process.returncode}): {output.decode()}")


class PrivateRedis:
    """`redis-server` on a free port, in memory only: a restart starts empty, as after a
    crash of a Redis that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:
            for _ in range(500):  # 10 s, for a machine under load
                try:
                    await client.ping()
                    return
                except (OSError, RedisError):
                    await asyncio.sleep(0.02)
            raise RuntimeError(f"redis-server on port {self.port} did not answer")
        finally:
            await client.aclose()

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, like a hung server."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
            await self._process.wait()
        self._process = None


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"no PostgreSQL {name} found")
    return on_path


class PrivatePostgres:
    """A cluster of its own (initdb into a temporary directory) on a free port.

    PostgreSQL refuses to run as root: as root (CI, this machine) the cluster belongs to
    the `postgres` user and its commands run through `runuser`.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="guanai-pg-"))
        self.data = self.directory / "data"
        self._as_postgres = ("runuser", "-u", "postgres", "--") if os.geteuid() == 0 else ()

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        await _run(
            *self._as_postgres,
            _postgres_bin("initdb"),
            *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
        )

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        await _run(
            *self._as_postgres,
            _postgres_bin("pg_ctl"),
            *("-D", str(self.data), "-o", options, "-l", str(self.directory / "log")),
            *("-w", "start"),
        )

    async def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a restart or failover."""
        await _run(
            *self._as_postgres,
            _postgres_bin("pg_ctl"),
            *("-D", str(self.data), "-m", "fast", "-w", "stop"),
        )

    def _processes(self) -> list[int]:
        """The postmaster and its children (the backends, the background workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """SIGSTOP to every process of the cluster: connections stay open and nothing
        answers, like a server hung or cut off by the network."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    async def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            await self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
