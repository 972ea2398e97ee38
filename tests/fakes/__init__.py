"""Test doubles for external services (Telegram Bot API)."""

from .telegram import Call, FakeTelegram, FakeUser, SentFile, SentMessage

__all__ = ["Call", "FakeTelegram", "FakeUser", "SentFile", "SentMessage"]
