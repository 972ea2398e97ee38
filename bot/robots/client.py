"""One HTTP client for the three platforms: signs, posts, reads the answer.

Signatures use the wall clock at the moment the request leaves, never the moment a job
believes it is (`guanai jobs run --now`, a test's fixed clock): DingTalk and Feishu
refuse a timestamp more than an hour from their own clock.

The URL and secret are credentials: nothing here logs them, and a failure is described
by the platform's code and words or the kind of network failure, never by the URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientSession,
    ClientTimeout,
    FormData,
)

from bot.robots.platforms import (
    MINUTE,
    Answer,
    Outcome,
    Post,
    Request,
    Upload,
    dingtalk_signature,
    feishu_sign,
    json_bytes,
    read_answer,
    wecom_file,
)
from domain.kinds import RobotKind

# The platforms' own hosts; tests give the fakes' instead (settings WECOM_API_URL, …).
BASES = {
    RobotKind.wecom: "https://qyapi.weixin.qq.com",
    RobotKind.dingtalk: "https://oapi.dingtalk.com",
    RobotKind.feishu: "https://open.feishu.cn",
}
TIMEOUT = ClientTimeout(total=20, connect=5)


@dataclass(frozen=True)
class Address:
    """Where a robot is: what `guanai robots add` stored. Never logged."""

    kind: RobotKind
    url: str
    secret: str | None = None

    def __repr__(self) -> str:
        return f"Address(kind={self.kind.value!r})"


class RobotClient:
    """Posts requests to robots over one aiohttp session (the caller's)."""

    def __init__(
        self,
        http: ClientSession,
        *,
        bases: Mapping[RobotKind, str] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._bases = {**BASES, **(bases or {})}
        self._wall = wall

    def _url(self, address: Address, path: str | None = None) -> str:
        """The stored URL on the platform's base (the real host, or a fake's)."""
        parts = urlsplit(address.url)
        target = (path or parts.path) + (f"?{parts.query}" if parts.query else "")
        return self._bases[address.kind].rstrip("/") + target

    async def send(self, address: Address, request: Request) -> Answer:
        """One request; a WeCom file is uploaded first, then sent as a file message."""
        if isinstance(request, Upload):
            uploaded = await self._upload(address, request)
            if isinstance(uploaded, Answer):
                return uploaded
            request = Post(wecom_file(uploaded))
        return await self._post(address, request)

    async def _post(self, address: Address, request: Post) -> Answer:
        url = self._url(address)
        body = dict(request.body)
        if address.kind is RobotKind.dingtalk and address.secret:
            url += dingtalk_signature(address.secret, int(self._wall() * 1000))
        elif address.kind is RobotKind.feishu and address.secret:
            timestamp = int(self._wall())
            body |= {"timestamp": str(timestamp), "sign": feishu_sign(address.secret, timestamp)}
        answer, _ = await self._exchange(
            address.kind,
            url,
            data=json_bytes(body),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        return answer

    async def _upload(self, address: Address, upload: Upload) -> str | Answer:
        """WeCom's upload_media: the media id, or the answer that refused it. Nothing
        reaches the group by an upload, so a doubtful one is simply done again later."""
        form = FormData(quote_fields=False)  # the name in UTF-8, as curl -F sends it
        form.add_field(
            "media", upload.data, filename=upload.name, content_type="application/octet-stream"
        )
        url = self._url(address, "/cgi-bin/webhook/upload_media") + "&type=file"
        answer, body = await self._exchange(address.kind, url, data=form)
        media_id = body.get("media_id")
        if answer.outcome is Outcome.ok and isinstance(media_id, str) and media_id:
            return media_id
        if answer.outcome in (Outcome.ok, Outcome.uncertain):
            return Answer(Outcome.throttled, answer.code, answer.words or "upload", MINUTE)
        return answer

    async def _exchange(
        self,
        kind: RobotKind,
        url: str,
        *,
        data: bytes | FormData,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Answer, dict[str, Any]]:
        """The answer, and the body when it was a JSON object."""
        try:
            async with self._http.post(url, data=data, headers=headers, timeout=TIMEOUT) as reply:
                text = await reply.text()
                status = reply.status
        except ClientConnectorError:  # never connected: nothing left
            return Answer(Outcome.throttled, None, "cannot connect", MINUTE), {}
        except (ClientError, TimeoutError) as error:  # it may have arrived
            return Answer(Outcome.uncertain, None, type(error).__name__), {}
        return read_answer(kind, status, text)
