"""What each platform takes and how it answers: bodies, byte limits, signatures, codes.

From the platforms' documentation (企业微信 群机器人配置说明, 钉钉 自定义机器人, 飞书 自定义
机器人使用指南). All three answer HTTP 200 when they refuse; the body's code says why, and
`read_answer` sorts it into an `Outcome`.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote_plus

from domain.kinds import RobotKind

JSON = dict[str, Any]

# WeCom: the content's UTF-8 bytes; an image before base64; a file to upload_media
WECOM_TEXT_BYTES = 2_048
WECOM_MARKDOWN_BYTES = 4_096
WECOM_IMAGE_BYTES = 2 * 1024 * 1024
WECOM_FILE_BYTES = 20 * 1024 * 1024
# DingTalk: the whole body as sent (UTF-8, not \u-escaped); Feishu: "20 KB" of body,
# kept as 20,000 so a signature's 70 bytes and any reading of "KB" fit
DINGTALK_BODY_BYTES = 20_000
FEISHU_BODY_BYTES = 20_000


class Outcome(enum.StrEnum):
    """What became of one request."""

    ok = "ok"  # taken: it is in the group
    throttled = "throttled"  # not taken now (too fast, busy, unreachable): send it later
    broken = "broken"  # the robot is refused for good (key invalid, removed, signature)
    rejected = "rejected"  # this request is refused (its form or size): sending it again fails
    uncertain = "uncertain"  # no clear answer after it left: it may or may not have arrived


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    code: int | None  # the platform's error code; None when no answer could be read
    words: str  # the platform's own message (errmsg / msg), or what failed on the way
    retry_after: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Post:
    """One message, as the platform's JSON (signed when it leaves)."""

    body: JSON


@dataclass(frozen=True)
class Upload:
    """A WeCom file: uploaded to upload_media, then sent as a file message."""

    name: str
    data: bytes


Request = Post | Upload


def json_bytes(body: JSON) -> bytes:
    """A body as sent: UTF-8, Chinese as is (DingTalk counts these bytes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --- bodies and their sizes ------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How one platform writes a titled list of lines, and how many bytes that may take."""

    limit: int
    star: ClassVar[str] = "*"  # a masked name's (张*明)

    def body(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> JSON:
        raise NotImplementedError

    def size(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> int:
        """The bytes the platform counts against `limit`."""
        return len(json_bytes(self.body(title, lines, mentions)))

    def cost(self, text: str) -> int:
        """The bytes one piece of a line adds (additive over its characters)."""
        return len(json.dumps(text, ensure_ascii=False).encode()) - 2


class WecomText(Shape):
    """Plain text: the only WeCom message that @mentions by mobile."""

    def body(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> JSON:
        text: JSON = {"content": "\n".join([title, *lines])}
        if mentions:
            text["mentioned_mobile_list"] = list(mentions)
        return {"msgtype": "text", "text": text}

    def size(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> int:
        return len("\n".join([title, *lines]).encode())

    def cost(self, text: str) -> int:
        return len(text.encode())


class WecomMarkdown(WecomText):
    star = "＊"  # full width: two masked names on a line never read as *emphasis*

    def body(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> JSON:
        return {"msgtype": "markdown", "markdown": {"content": "\n".join([f"**{title}**", *lines])}}

    def size(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> int:
        return len("\n".join([f"**{title}**", *lines]).encode())


class DingtalkMarkdown(Shape):
    """Markdown; a mention needs both `at.atMobiles` and "@mobile" in the text."""

    star = "＊"

    def body(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> JSON:
        said = [f"#### {title}", *lines]
        if mentions:
            said.append(" ".join(f"@{mobile}" for mobile in mentions))
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": "\n\n".join(said)},
            "at": {"atMobiles": list(mentions), "isAtAll": False},
        }


class FeishuPost(Shape):
    """Rich text (`post`): a title and one paragraph per line. A custom robot cannot
    @mention by mobile, so the responsible person is named with their phone instead."""

    def body(self, title: str, lines: Sequence[str], mentions: Sequence[str]) -> JSON:
        paragraphs = [[{"tag": "text", "text": line}] for line in lines]
        return {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": title, "content": paragraphs}}},
            # the signature's room: a 10-digit timestamp and a 44-character sign
            "timestamp": "0" * 10,
            "sign": "0" * 44,
        }


WECOM_TEXT = WecomText(WECOM_TEXT_BYTES)
WECOM_MARKDOWN = WecomMarkdown(WECOM_MARKDOWN_BYTES)
DINGTALK_MARKDOWN = DingtalkMarkdown(DINGTALK_BODY_BYTES)
FEISHU_POST = FeishuPost(FEISHU_BODY_BYTES)


def unsigned(body: JSON) -> JSON:
    """A Feishu body without the room kept for its signature (added when it leaves)."""
    return {key: value for key, value in body.items() if key not in ("timestamp", "sign")}


def wecom_image(png: bytes) -> Post:
    """A WeCom image: base64 of the bytes and the md5 of the bytes (before base64)."""
    return Post(
        {
            "msgtype": "image",
            "image": {
                "base64": base64.b64encode(png).decode(),
                "md5": hashlib.md5(png, usedforsecurity=False).hexdigest(),
            },
        }
    )


def wecom_file(media_id: str) -> JSON:
    return {"msgtype": "file", "file": {"media_id": media_id}}


# --- signatures --------------------------------------------------------------------------


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """`&timestamp=…&sign=…` for the URL: base64(HMAC-SHA256(secret, "ts\\nsecret")),
    URL-encoded; the timestamp in milliseconds."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return f"&timestamp={timestamp_ms}&sign={quote_plus(base64.b64encode(digest).decode())}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu keys the HMAC with "ts\\nsecret" and signs nothing; the timestamp in seconds."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- answers -------------------------------------------------------------------------------

MINUTE = dt.timedelta(minutes=1)
# code → (outcome, how long to keep the robot quiet)
CODES: dict[RobotKind, dict[int, tuple[Outcome, dt.timedelta]]] = {
    RobotKind.wecom: {
        -1: (Outcome.throttled, dt.timedelta(seconds=10)),  # system busy
        45009: (Outcome.throttled, MINUTE),  # api freq out of limit (20 a minute)
        93000: (Outcome.broken, dt.timedelta(0)),  # invalid webhook url (key)
    },
    RobotKind.dingtalk: {
        -1: (Outcome.throttled, dt.timedelta(seconds=10)),
        130101: (Outcome.throttled, 10 * MINUTE),  # send too fast: blocked ten minutes
        410100: (Outcome.throttled, 10 * MINUTE),  # 发送速度太快而限流
        300001: (Outcome.broken, dt.timedelta(0)),  # token is not exist
        310000: (Outcome.broken, dt.timedelta(0)),  # keywords / sign / ip whitelist
        400013: (Outcome.broken, dt.timedelta(0)),  # 群已被解散
        400101: (Outcome.broken, dt.timedelta(0)),  # access_token 不存在
        400102: (Outcome.broken, dt.timedelta(0)),  # 机器人已停用
    },
    RobotKind.feishu: {
        11232: (Outcome.throttled, dt.timedelta(seconds=30)),  # frequency limited
        19001: (Outcome.broken, dt.timedelta(0)),  # incoming webhook access token invalid
        19021: (Outcome.broken, dt.timedelta(0)),  # sign match fail or timestamp
        19022: (Outcome.broken, dt.timedelta(0)),  # ip not allowed
        19024: (Outcome.broken, dt.timedelta(0)),  # key words not found
    },
}


def read_answer(kind: RobotKind, status: int, text: str) -> tuple[Answer, JSON]:
    """Sort an HTTP answer (the body's code decides, HTTP 200 or not); and the body."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if status == 429:
            return Answer(Outcome.throttled, None, f"HTTP {status}", MINUTE), {}
        if status in (401, 403, 404):
            return Answer(Outcome.broken, None, f"HTTP {status}"), {}
        return Answer(Outcome.uncertain, None, f"HTTP {status}"), {}
    return _coded(kind, status, body), body


def _coded(kind: RobotKind, status: int, body: JSON) -> Answer:
    key = ("code" if "code" in body else "StatusCode") if kind is RobotKind.feishu else "errcode"
    words_key = "msg" if kind is RobotKind.feishu else "errmsg"
    code = body.get(key)
    words = str(body.get(words_key) or body.get("StatusMessage") or "")[:200]
    if not isinstance(code, int):
        return Answer(Outcome.uncertain, None, words or f"HTTP {status}")
    if code == 0:
        return Answer(Outcome.ok, 0, words)
    outcome, wait = CODES[kind].get(code, (Outcome.rejected, dt.timedelta(0)))
    return Answer(outcome, code, words, wait)
