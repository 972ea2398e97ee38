"""Local fakes of the WeCom, DingTalk and Feishu group-robot webhooks, over real HTTP.

They behave as the platforms document: every answer is HTTP 200 with the error in the
body; DingTalk's URL signature and Feishu's body signature are checked, and a timestamp
more than an hour from the fake's clock is refused; the per-robot limits are kept over a
sliding window (WeCom 20 a minute → 45009; DingTalk 20 a minute → 130101 and the robot
blocked ten minutes; Feishu 5 a second and 100 a minute → 11232); sizes are checked in
bytes (WeCom text 2,048 and markdown 4,096 of content, image 2 MB before base64 with its
md5, file 20 MB; DingTalk body 20,000; Feishu body 20 KB). A removed or unknown robot is
refused as the platform refuses it (93000, 300001, 19001).

What arrived is recorded (`arrived`), and so is every refusal (`refused`).

    fake = FakeRobots()
    await fake.start()
    url, token = fake.robot(RobotKind.dingtalk, secret="SEC…")  # the URL as the app shows it
    client = RobotClient(http, bases=fake.bases)                 # posts to the fake

The fake's clock is `time.time` moved by `advance` (a test moves it past a block
instead of sleeping).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from domain.kinds import RobotKind

JSON = dict[str, Any]
HOUR = 3600.0
WECOM_TEXT = 2_048
WECOM_MARKDOWN = 4_096
WECOM_IMAGE = 2 * 1024 * 1024
WECOM_FILE = 20 * 1024 * 1024
DINGTALK_BODY = 20_000
FEISHU_BODY = 20 * 1024

REAL_URL = {
    RobotKind.wecom: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={token}",
    RobotKind.dingtalk: "https://oapi.dingtalk.com/robot/send?access_token={token}",
    RobotKind.feishu: "https://open.feishu.cn/open-apis/bot/v2/hook/{token}",
}


@dataclass(frozen=True)
class Arrived:
    kind: RobotKind
    token: str
    body: JSON  # as posted (Feishu's without timestamp and sign); a file's with its bytes
    at: float


@dataclass
class FakeRobot:
    kind: RobotKind
    token: str
    secret: str | None
    sent: deque[float] = field(default_factory=deque)  # accepted requests' moments
    blocked_until: float = 0.0
    removed: bool = False
    throttle_next: int = 0  # answer "too fast" to this many next requests, whatever the pace
    cut_next: int = 0  # take this many next messages, then close the connection unanswered


class CutOff(Exception):
    """Raised by a handler to drop the connection without an answer."""


@web.middleware
async def _cut_off(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except CutOff:
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=599)  # never reaches the client: the connection is gone
    return response


class FakeRobots:
    def __init__(self) -> None:
        self.robots: dict[str, FakeRobot] = {}
        self.arrived: list[Arrived] = []
        self.refused: list[tuple[str, int]] = []  # (token, code)
        self.media: dict[str, tuple[str, bytes]] = {}
        self.offset = 0.0
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)

    # --- set-up ----------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def robot(self, kind: RobotKind, secret: str | None = None) -> tuple[str, str]:
        """A new robot: its webhook URL as the app shows it, and its token."""
        token = f"{kind.value}{next(self._ids):04d}" + "a1b2c3d4e5f6"
        self.robots[token] = FakeRobot(kind, token, secret)
        return REAL_URL[kind].format(token=token), token

    @property
    def bases(self) -> dict[RobotKind, str]:
        return dict.fromkeys(RobotKind, self.base_url)

    def received(self, token: str) -> list[JSON]:
        return [arrived.body for arrived in self.arrived if arrived.token == token]

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_cut_off])
        app.router.add_post("/cgi-bin/webhook/send", self._wecom_send)
        app.router.add_post("/cgi-bin/webhook/upload_media", self._wecom_upload)
        app.router.add_post("/robot/send", self._dingtalk_send)
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu_send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- shared rules ----------------------------------------------------------------

    def _known(self, kind: RobotKind, token: str) -> FakeRobot | None:
        robot = self.robots.get(token)
        return robot if robot is not None and robot.kind is kind and not robot.removed else None

    def _too_fast(self, robot: FakeRobot, now: float) -> bool:
        """The platform's limit, on a sliding window of the accepted requests."""
        while robot.sent and robot.sent[0] <= now - 60:
            robot.sent.popleft()
        if robot.throttle_next > 0:
            robot.throttle_next -= 1
            return True
        if robot.kind is RobotKind.dingtalk:
            if now < robot.blocked_until:
                return True
            if len(robot.sent) >= 20:
                robot.blocked_until = now + 600  # 限流 10 分钟
                return True
            return False
        if robot.kind is RobotKind.feishu:
            in_second = sum(1 for moment in robot.sent if moment > now - 1)
            return len(robot.sent) >= 100 or in_second >= 5
        return len(robot.sent) >= 20

    def _answer(self, robot: FakeRobot | None, token: str, code: int, words: str) -> web.Response:
        kind = robot.kind if robot is not None else None
        if code != 0:
            self.refused.append((token, code))
        if kind is RobotKind.feishu or (robot is None and token.startswith("feishu")):
            return web.json_response({"code": code, "msg": words, "data": {}})
        return web.json_response({"errcode": code, "errmsg": words})

    def _accept(self, robot: FakeRobot, body: JSON, now: float) -> web.Response:
        robot.sent.append(now)
        self.arrived.append(Arrived(robot.kind, robot.token, body, now))
        if robot.cut_next > 0:  # it is in the group, but the answer never leaves
            robot.cut_next -= 1
            raise CutOff()
        return self._answer(
            robot, robot.token, 0, "ok" if robot.kind is not RobotKind.feishu else "success"
        )

    # --- WeCom -----------------------------------------------------------------------

    async def _wecom_send(self, request: web.Request) -> web.Response:
        token = request.query.get("key", "")
        robot = self._known(RobotKind.wecom, token)
        if robot is None:
            return self._answer(None, token, 93000, "invalid webhook url, hint: key invalid")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._answer(robot, token, 40000, "Warning: wrong json format.")
        now = self.now()
        if self._too_fast(robot, now):
            return self._answer(robot, token, 45009, "api freq out of limit")
        msgtype = body.get("msgtype")
        if msgtype in ("text", "markdown"):
            content = str(body.get(msgtype, {}).get("content", ""))
            limit = WECOM_TEXT if msgtype == "text" else WECOM_MARKDOWN
            if not content:
                return self._answer(robot, token, 44004, "empty content")
            if len(content.encode()) > limit:
                return self._answer(
                    robot, token, 40058, f"{msgtype}.content exceed max length {limit}"
                )
        elif msgtype == "image":
            image = body.get("image", {})
            try:
                data = base64.b64decode(image.get("base64", ""), validate=True)
            except (binascii.Error, ValueError):
                return self._answer(robot, token, 40009, "invalid image")
            if not data or len(data) > WECOM_IMAGE:
                return self._answer(robot, token, 40009, "invalid image size")
            if hashlib.md5(data, usedforsecurity=False).hexdigest() != image.get("md5"):
                return self._answer(robot, token, 40058, "image md5 not match")
        elif msgtype == "file":
            media_id = body.get("file", {}).get("media_id", "")
            if media_id not in self.media:
                return self._answer(robot, token, 40007, "invalid media_id")
            name, data = self.media[media_id]
            body = {**body, "file": {"media_id": media_id, "name": name, "data": data}}
        else:
            return self._answer(robot, token, 40008, "invalid message type")
        return self._accept(robot, body, now)

    async def _wecom_upload(self, request: web.Request) -> web.Response:
        token = request.query.get("key", "")
        robot = self._known(RobotKind.wecom, token)
        if robot is None:
            return self._answer(None, token, 93000, "invalid webhook url, hint: key invalid")
        if request.query.get("type") != "file":
            return self._answer(robot, token, 40005, "invalid media type")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return self._answer(robot, token, 41005, "media data missing")
        data = media.file.read()
        if len(data) <= 5 or len(data) > WECOM_FILE:
            return self._answer(robot, token, 40006, "invalid file size")
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = (media.filename, data)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "type": "file", "media_id": media_id, "created_at": "0"}
        )

    # --- DingTalk --------------------------------------------------------------------

    async def _dingtalk_send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        robot = self._known(RobotKind.dingtalk, token)
        if robot is None:
            return self._answer(None, token, 300001, "token is not exist")
        now = self.now()
        if robot.secret is not None:
            timestamp = request.query.get("timestamp", "")
            if not timestamp.isdigit() or abs(int(timestamp) / 1000 - now) > HOUR:
                return self._answer(robot, token, 310000, "invalid timestamp")
            expected = base64.b64encode(
                hmac.new(
                    robot.secret.encode(), f"{timestamp}\n{robot.secret}".encode(), hashlib.sha256
                ).digest()
            ).decode()
            if not hmac.compare_digest(expected, request.query.get("sign", "")):
                return self._answer(robot, token, 310000, "sign not match")
        raw = await request.read()
        if len(raw) > DINGTALK_BODY:
            return self._answer(robot, token, 460101, "message too large")
        if self._too_fast(robot, now):
            return self._answer(robot, token, 130101, "send too fast, exceed 20 times per minute")
        return self._accept(robot, json.loads(raw), now)

    # --- Feishu ----------------------------------------------------------------------

    async def _feishu_send(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        robot = self._known(RobotKind.feishu, token)
        if robot is None:
            return self._answer(
                None, token, 19001, "param invalid: incoming webhook access token invalid"
            )
        raw = await request.read()
        if len(raw) > FEISHU_BODY:
            return self._answer(robot, token, 9499, "Bad Request")
        body = json.loads(raw)
        now = self.now()
        if robot.secret is not None:
            timestamp = str(body.pop("timestamp", ""))
            sign = str(body.pop("sign", ""))
            expected = base64.b64encode(
                hmac.new(f"{timestamp}\n{robot.secret}".encode(), b"", hashlib.sha256).digest()
            ).decode()
            if (
                not timestamp.isdigit()
                or abs(int(timestamp) - now) > HOUR
                or not hmac.compare_digest(expected, sign)
            ):
                return self._answer(
                    robot,
                    token,
                    19021,
                    "sign match fail or timestamp is not within one hour from current time",
                )
        if self._too_fast(robot, now):
            return self._answer(
                robot, token, 11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[0]"
            )
        return self._accept(robot, body, now)
