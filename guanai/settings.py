"""Configuration from the environment (and an optional `.env`).

The variable names are a contract with deployments: add to them, never rename.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import DomainError


class MissingSetting(DomainError):
    """A setting the chosen command needs is not set; the message says how to fix it."""

    message = (
        "BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env or the environment."
    )


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

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_bot_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise MissingSetting()
        return self.bot_token.get_secret_value().strip()

    @property
    def arq_queue(self) -> str:
        return f"{self.redis_prefix}:queue"

    @property
    def arq_escalation_queue(self) -> str:
        return f"{self.redis_prefix}:escalations"
