"""Configuration from the environment (and an optional `.env`).

The variable names are a contract with deployments: add to them, never rename.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import DomainError
from domain.kinds import RobotKind


class MissingSetting(DomainError):
    """A setting the chosen command needs is not set; the message says how to fix it."""

    message = (
        "BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env or the environment."
    )


#: The token `.env.example` carries, to be replaced by the real one.
EXAMPLE_BOT_TOKEN = "123456789:replace-with-the-token-from-BotFather"


class PlaceholderToken(DomainError):
    message = (
        "BOT_TOKEN is still the example's placeholder: put the token from @BotFather in .env "
        "or the environment."
    )


class MalformedToken(DomainError):
    message = (
        "BOT_TOKEN does not look like a bot token (digits, a colon, then letters, like "
        "123456:ABC-DEF1234): copy it again from @BotFather."
    )


class BadSetting(DomainError):
    message = "{name} is not valid ({problem}): correct it in .env or the environment."


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = Field(default=None, validation_alias="BOT_TOKEN")
    bot_api_url: str = Field(default="https://api.telegram.org", validation_alias="BOT_API_URL")
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/guanai",
        validation_alias="DATABASE_URL",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    redis_prefix: str = Field(default="guanai", validation_alias="REDIS_PREFIX")
    # A worker that lost Redis or PostgreSQL tries again after 0.5 s, then twice as long
    # each time, up to this many seconds, until the server is back.
    outage_retry_max_seconds: float = Field(
        default=30.0, gt=0, validation_alias="OUTAGE_RETRY_MAX_SECONDS"
    )
    # Redis counts as unavailable when it does not answer within this many seconds: the bot
    # tells the user to try again, a worker starts again, instead of waiting for ever.
    redis_timeout_seconds: float = Field(
        default=5.0, gt=0, validation_alias="REDIS_TIMEOUT_SECONDS"
    )
    # The bot counts PostgreSQL as unavailable when connecting, or a statement, takes longer
    # than this: the user is told to try again instead of waiting (the workers, whose
    # reports may take long, have no such limit).
    database_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias="DATABASE_TIMEOUT_SECONDS"
    )
    timezone: str = Field(default="Asia/Shanghai", validation_alias="TIMEZONE")
    media_dir: Path = Field(default=Path("./media"), validation_alias="MEDIA_DIR")
    # Photos whose perceptual hashes differ in at most this many of 64 bits count as the same.
    photo_similarity_threshold: int = Field(
        default=6, ge=0, le=15, validation_alias="PHOTO_SIMILARITY_THRESHOLD"
    )
    photo_max_attempts: int = Field(default=5, ge=1, le=20, validation_alias="PHOTO_MAX_ATTEMPTS")
    # The first retry of a failed download waits this long; each next one twice as long.
    photo_retry_seconds: float = Field(default=30.0, gt=0, validation_alias="PHOTO_RETRY_SECONDS")
    # A photo of more pixels is refused (failed, its check-in for review) before decoding.
    photo_max_pixels: int = Field(default=20_000_000, ge=1, validation_alias="PHOTO_MAX_PIXELS")
    # A spreadsheet import (chat or command line) is refused above either limit.
    import_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, le=20 * 1024 * 1024, validation_alias="IMPORT_MAX_BYTES"
    )
    import_max_rows: int = Field(default=20_000, ge=1, validation_alias="IMPORT_MAX_ROWS")

    # Webhook mode (`guanai run --webhook URL`, or WEBHOOK_URL set): Telegram posts each
    # update to WEBHOOK_URL, which a proxy forwards to WEBHOOK_HOST:WEBHOOK_PORT.
    webhook_url: str | None = Field(default=None, validation_alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET")
    webhook_host: str = Field(default="127.0.0.1", validation_alias="WEBHOOK_HOST")
    webhook_port: int = Field(default=8080, ge=0, le=65535, validation_alias="WEBHOOK_PORT")
    webhook_path: str | None = Field(default=None, validation_alias="WEBHOOK_PATH")

    # `guanai health` reports unhealthy when a due message has waited longer than this.
    health_outbox_minutes: float = Field(
        default=15.0, gt=0, validation_alias="HEALTH_OUTBOX_MINUTES"
    )
    # At start, wait this long for PostgreSQL, Redis and the Bot API to answer before giving
    # up (compose sets it: after a reboot they start together).
    startup_wait_seconds: float = Field(default=0.0, ge=0, validation_alias="STARTUP_WAIT_SECONDS")

    # The group robots' platforms: their own hosts, or a proxy's (the tests' fakes).
    wecom_api_url: str = Field(
        default="https://qyapi.weixin.qq.com", validation_alias="WECOM_API_URL"
    )
    dingtalk_api_url: str = Field(
        default="https://oapi.dingtalk.com", validation_alias="DINGTALK_API_URL"
    )
    feishu_api_url: str = Field(default="https://open.feishu.cn", validation_alias="FEISHU_API_URL")

    @property
    def robot_api_urls(self) -> dict[RobotKind, str]:
        """The base URL of each group-robot platform."""
        return {
            RobotKind.wecom: self.wecom_api_url,
            RobotKind.dingtalk: self.dingtalk_api_url,
            RobotKind.feishu: self.feishu_api_url,
        }

    # The Matrix front, for where Telegram cannot reach: the homeserver's URL, the bot's
    # account on it (full id, @guanai:example.org) and its access token or password.
    # Set, `guanai run` starts the Matrix front too; `guanai matrix` runs it alone.
    matrix_homeserver: str | None = Field(default=None, validation_alias="MATRIX_HOMESERVER")
    matrix_user: str | None = Field(default=None, validation_alias="MATRIX_USER")
    matrix_access_token: SecretStr | None = Field(
        default=None, validation_alias="MATRIX_ACCESS_TOKEN"
    )
    matrix_password: SecretStr | None = Field(default=None, validation_alias="MATRIX_PASSWORD")
    # Where the Matrix bot keeps its device's encryption keys; keep it across restarts
    # (a volume in compose), or encrypted chats cannot be read.
    matrix_store_dir: Path = Field(
        default=Path("./matrix-store"), validation_alias="MATRIX_STORE_DIR"
    )

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_bot_token(self) -> str:
        token = "" if self.bot_token is None else self.bot_token.get_secret_value().strip()
        if not token:
            raise MissingSetting()
        if token == EXAMPLE_BOT_TOKEN:
            raise PlaceholderToken()
        bot_id, colon, secret = token.partition(":")
        if not (colon and bot_id.isdigit() and secret) or any(c.isspace() for c in token):
            raise MalformedToken()
        return token

    @property
    def arq_queue(self) -> str:
        return f"{self.redis_prefix}:queue"

    @property
    def arq_escalation_queue(self) -> str:
        return f"{self.redis_prefix}:escalations"

    def webhook_secret_token(self) -> str:
        """What Telegram sends with every update: WEBHOOK_SECRET, or one derived from the
        bot's token (the same across restarts and processes, unknown without the token)."""
        secret = self.webhook_secret.get_secret_value().strip() if self.webhook_secret else ""
        if not secret:
            token = self.require_bot_token().encode()
            return hashlib.sha256(b"guanai webhook secret:" + token).hexdigest()
        if not _SECRET_TOKEN.fullmatch(secret):
            raise BadWebhookSecret()
        return secret

    def webhook_listen_path(self, url: str) -> str:
        """The path the bot serves updates on: WEBHOOK_PATH, or the webhook URL's path."""
        from urllib.parse import urlsplit

        return self.webhook_path or urlsplit(url).path or "/"

    def require_matrix(self) -> MatrixAccount:
        """The Matrix bot's account, or one line saying which setting is missing."""
        homeserver = (self.matrix_homeserver or "").strip().rstrip("/")
        if not homeserver:
            raise MatrixSettingMissing(name="MATRIX_HOMESERVER")
        if not homeserver.startswith(("http://", "https://")):
            raise BadSetting(name="MATRIX_HOMESERVER", problem="an http:// or https:// URL")
        user = (self.matrix_user or "").strip()
        if not _MATRIX_USER.fullmatch(user):
            raise BadSetting(name="MATRIX_USER", problem="a full Matrix id, @name:server")
        token = (
            self.matrix_access_token.get_secret_value().strip() if self.matrix_access_token else ""
        )
        password = self.matrix_password.get_secret_value() if self.matrix_password else ""
        if not (token or password):
            raise MatrixSettingMissing(name="MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD")
        return MatrixAccount(
            homeserver=homeserver,
            user_id=user,
            access_token=token or None,
            password=password or None,
            store_dir=self.matrix_store_dir,
        )


@dataclass(frozen=True)
class MatrixAccount:
    """What the Matrix front logs in with; secrets are never logged."""

    homeserver: str
    user_id: str
    access_token: str | None = field(repr=False)
    password: str | None = field(repr=False)
    store_dir: Path


_MATRIX_USER = re.compile(r"@[^:\s]+:[^\s]+")


class MatrixSettingMissing(DomainError):
    message = "{name} is not set: the Matrix front needs it (see .env.example)."


#: What Telegram accepts as a webhook's secret_token.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class BadWebhookSecret(DomainError):
    message = (
        "WEBHOOK_SECRET may hold only letters, digits, _ and - (at most 256): "
        "change it, or leave it unset to derive one from the token."
    )


def load_settings() -> Settings:
    """The settings, or one line naming the first variable that is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise BadSetting(name=name, problem=first["msg"]) from None
