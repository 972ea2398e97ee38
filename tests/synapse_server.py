"""A real Synapse for the Matrix tests: from PyPI, in an environment of its own, local only.

Synapse brings Twisted and some sixty other packages that guanai does not use, so it is
not one of guanai's dependencies: `tests/synapse/requirements.txt` pins it and all it
needs, and the first run installs them with uv into a cached virtual environment named by
that file's hash (`~/.cache/guanai/synapse-<hash>`, or under `$GUANAI_SYNAPSE_CACHE`).
A later run, or a helper running tests at the same time, reuses it (a lock file keeps two
installs from racing). A fresh machine needs nothing but uv and PyPI.

Each start is a new homeserver in a temporary directory: SQLite, a free port on
127.0.0.1, no federation, no outside key servers, rate limits wide open (a test narrows
one user's with `limit_messages`), and a registration secret for making test users
through the admin API.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.servers import free_port

REQUIREMENTS = Path(__file__).parent / "synapse" / "requirements.txt"
SERVER_NAME = "localhost"
START_TIMEOUT_SECONDS = 120.0  # a loaded CI machine; it takes ~5 s on a quiet one


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    password: str
    access_token: str
    device_id: str


def _cache_root() -> Path:
    configured = os.environ.get("GUANAI_SYNAPSE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "guanai"


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV
    if not found:
        raise RuntimeError("the Matrix tests install Synapse with uv, and uv is not on PATH")
    return found


def ensure_installed() -> tuple[Path, float]:
    """The Python of Synapse's environment, installed if missing; and the seconds it took."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    home = _cache_root() / f"synapse-{digest}"
    python = home / "bin" / "python"
    done = home / ".installed"
    home.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (home.parent / f"synapse-{digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)
            uv = _uv()
            # the interpreter running the tests: nothing for uv to download
            _check([uv, "venv", "--quiet", "--python", sys.executable, str(home)])
            # compiled now: PYTHONDONTWRITEBYTECODE would make every start compile again
            install = [uv, "pip", "install", "--quiet", "--compile-bytecode"]
            _check([*install, "--python", str(python), "-r", str(REQUIREMENTS)])
            done.touch()
    return python, time.monotonic() - started


def _check(argv: list[str]) -> None:
    import subprocess

    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {result.stderr[-2000:]}")


def _config(directory: Path, port: int, secret: str) -> dict[str, object]:
    wide_open = {"per_second": 10_000, "burst_count": 10_000}
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "log_config": str(directory / "log.yaml"),
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(directory / "signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "bcrypt_rounds": 4,  # test passwords: hashing at the default costs each user 0.3 s
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "rc_message": wide_open,
        "rc_registration": wide_open,
        "rc_login": {"address": wide_open, "account": wide_open, "failed_attempts": wide_open},
        "rc_joins": {"local": wide_open, "remote": wide_open},
        "rc_invites": {"per_room": wide_open, "per_user": wide_open, "per_issuer": wide_open},
        "rc_key_requests": wide_open,
    }


def _die_with_parent() -> None:
    """Linux's parent-death signal: a test run killed outright leaves no Synapse behind."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


_LOG_CONFIG = """\
version: 1
formatters:
  plain: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: plain, filename: LOGFILE}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


class Synapse:
    """One homeserver, started and stopped by the session's `synapse` fixture."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._secret = secrets.token_hex(16)
        self._directory = Path(tempfile.mkdtemp(prefix="guanai-synapse-"))
        self._process: asyncio.subprocess.Process | None = None
        self._admin: MatrixUser | None = None
        self.install_seconds = 0.0
        self.start_seconds = 0.0

    async def start(self) -> None:
        python, self.install_seconds = await asyncio.to_thread(ensure_installed)
        started = time.monotonic()
        config = self._directory / "homeserver.yaml"
        # JSON is YAML: no YAML writer needed here
        config.write_text(json.dumps(_config(self._directory, self.port, self._secret)))
        (self._directory / "log.yaml").write_text(
            _LOG_CONFIG.replace("LOGFILE", str(self._directory / "homeserver.log"))
        )
        # Synapse's key format; written here, as `--generate-keys` costs a start of its own
        seed = b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        (self._directory / "signing.key").write_text(f"ed25519 a_test {seed}\n")
        self._process = await asyncio.create_subprocess_exec(
            *(str(python), "-m", "synapse.app.homeserver", "--config-path", str(config)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(self._directory / "stderr.log").open("wb"),
            cwd=self._directory,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as http:
            while True:
                if self._process.returncode is not None:
                    raise RuntimeError(f"Synapse exited at start: {self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/_matrix/client/versions") as response:
                        if response.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Synapse did not answer: {self.log_tail()}")
                await asyncio.sleep(0.05)
        self.start_seconds = time.monotonic() - started

    def log_tail(self) -> str:
        parts = []
        for name in ("stderr.log", "homeserver.log"):
            path = self._directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    async def stop(self) -> None:
        """Killed outright: its directory goes with it, so nothing needs a clean shutdown
        (which takes Synapse seconds)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        shutil.rmtree(self._directory, ignore_errors=True)

    async def register(self, localpart: str, *, admin: bool = False) -> MatrixUser:
        """A new user through the shared-secret admin API, logged in on one device."""
        password = secrets.token_hex(8)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(endpoint) as response:
                nonce = (await response.json())["nonce"]
            signed = "\x00".join((nonce, localpart, password, "admin" if admin else "notadmin"))
            mac = hmac.new(self._secret.encode(), signed.encode(), hashlib.sha1)
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            async with http.post(endpoint, json=body) as response:
                answer = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"registering {localpart} failed: {answer}")
        return MatrixUser(answer["user_id"], password, answer["access_token"], answer["device_id"])

    async def limit_messages(self, user_id: str, *, per_second: int, burst: int) -> None:
        """Narrow one user's message rate limit (the admin API's override)."""
        if self._admin is None:
            self._admin = await self.register(f"admin-{secrets.token_hex(4)}", admin=True)
        endpoint = f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit"
        headers = {"Authorization": f"Bearer {self._admin.access_token}"}
        body = {"messages_per_second": per_second, "burst_count": burst}
        async with (
            aiohttp.ClientSession() as http,
            http.post(endpoint, json=body, headers=headers) as response,
        ):
            if response.status != 200:
                raise RuntimeError(f"override_ratelimit failed: {await response.text()}")

    async def wait_for_device_keys(self, user_id: str, *, asking: MatrixUser) -> None:
        """Until `user_id` has published a device's keys: a client that encrypts before
        then cannot share the room's key with that device (its first start, say)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        headers = {"Authorization": f"Bearer {asking.access_token}"}
        body = {"device_keys": {user_id: []}}
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.post(
                    f"{self.url}/_matrix/client/v3/keys/query", json=body, headers=headers
                ) as response:
                    if (await response.json()).get("device_keys", {}).get(user_id):
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{user_id} published no device keys")
                await asyncio.sleep(0.1)
