"""The robots' rules as plain functions: webhooks, masking, splitting, signatures, answers,
and the pace's decision. No database, no network."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import unquote_plus

import pytest

from bot.robots.platforms import (
    DINGTALK_MARKDOWN,
    FEISHU_POST,
    WECOM_MARKDOWN,
    WECOM_TEXT,
    Outcome,
    Post,
    Upload,
    dingtalk_signature,
    feishu_sign,
    json_bytes,
    read_answer,
)
from bot.robots.render import Attachment, Group, Notice, mask_name, requests, split
from domain.delivery.robots import (
    LIMITS,
    BadMobile,
    BadSecret,
    NeedsSecret,
    NoSecret,
    NotThatPlatform,
    checked_mobile,
    checked_secret,
    masked_url,
    wait_for_slot,
    webhook,
)
from domain.kinds import RobotKind

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=" + "ab12" * 16
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"


def same(text: str) -> str:
    return text


# --- webhooks ------------------------------------------------------------------------


def test_each_platforms_webhook_is_recognised_and_the_others_refused() -> None:
    assert webhook(RobotKind.wecom, WECOM).url == WECOM
    assert webhook(RobotKind.dingtalk, DINGTALK).url == DINGTALK
    assert webhook(RobotKind.feishu, FEISHU).url == FEISHU
    lark = FEISHU.replace("open.feishu.cn", "open.larksuite.com")
    assert webhook(RobotKind.feishu, lark).url == lark
    for kind, url in (
        (RobotKind.wecom, DINGTALK),
        (RobotKind.dingtalk, FEISHU),
        (RobotKind.feishu, WECOM),
        (RobotKind.wecom, WECOM.replace("https", "http")),
        (RobotKind.wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="),
        (RobotKind.dingtalk, "https://oapi.dingtalk.com.evil.example/robot/send?access_token=x"),
        (RobotKind.feishu, "not a url"),
    ):
        with pytest.raises(NotThatPlatform):
            webhook(kind, url)


def test_dingtalk_and_feishu_need_a_secret_and_wecom_takes_none() -> None:
    assert checked_secret(RobotKind.wecom, None) is None
    assert checked_secret(RobotKind.dingtalk, " SECabc ") == "SECabc"
    assert checked_secret(RobotKind.feishu, "nIMtb7r3N9pk") == "nIMtb7r3N9pk"
    with pytest.raises(NeedsSecret):
        checked_secret(RobotKind.dingtalk, None)
    with pytest.raises(NeedsSecret):
        checked_secret(RobotKind.feishu, "  ")
    with pytest.raises(BadSecret):
        checked_secret(RobotKind.dingtalk, "abc")
    with pytest.raises(NoSecret):
        checked_secret(RobotKind.wecom, "SECabc")


def test_mobiles_are_mainland_numbers() -> None:
    assert checked_mobile("+86 138-1234-5678") == "13812345678"
    with pytest.raises(BadMobile):
        checked_mobile("0231234567")


def test_a_masked_url_keeps_the_host_and_four_characters() -> None:
    assert masked_url(WECOM) == "https://qyapi.weixin.qq.com/…5aaa"
    assert "693a91f6" not in masked_url(WECOM)


# --- masking and rendering -----------------------------------------------------------


def test_names_are_masked_as_offices_write_them() -> None:
    assert mask_name("张小明") == "张*明"
    assert mask_name("李明") == "李*"
    assert mask_name("欧阳小明") == "欧**明"


def notice(**changes: object) -> Notice:
    base: dict[str, object] = {
        "title": "逾期家访：张小明",
        "lines": ("张小明（中和小学）的家访已逾期 12 天。", "代理家长：李阿姨"),
        "actions": ("请在 Telegram 中按“我来处理”，或打电话给负责人。",),
        "responsible": "王老师",
        "phone": "13900001111",
        "mention": True,
        "child_names": ("张小明",),
    }
    return Notice(**{**base, **changes})  # type: ignore[arg-type]


def test_a_wecom_mention_goes_as_text_with_the_mobiles_and_names_masked_where_asked() -> None:
    group = Group(RobotKind.wecom, mobiles=("13812345678",), mask_child_names=True)
    [request] = requests(notice(), group, same)
    assert isinstance(request, Post)
    text = request.body["text"]
    assert request.body["msgtype"] == "text"
    assert text["mentioned_mobile_list"] == ["13812345678", "13900001111"]
    assert "张小明" not in text["content"] and "张*明" in text["content"]
    assert "Responsible: 王老师, phone 13900001111" in text["content"]
    unmasked = requests(notice(), Group(RobotKind.wecom), same)[0]
    assert isinstance(unmasked, Post) and "张小明" in unmasked.body["text"]["content"]


def test_a_roster_reaches_wecom_as_markdown_file_and_image_and_dingtalk_as_markdown() -> None:
    roster = notice(
        title="本周值班表",
        mention=False,
        files=(
            Attachment("值班表.xlsx", b"PK" + b"x" * 100),
            Attachment("图.png", b"\x89PNG", True),
        ),
        files_note="表格已发到 Telegram 和企业微信群。",
    )
    wecom = requests(roster, Group(RobotKind.wecom), same)
    assert [type(r).__name__ for r in wecom] == ["Post", "Upload", "Post"]
    assert isinstance(wecom[0], Post) and wecom[0].body["msgtype"] == "markdown"
    assert isinstance(wecom[1], Upload) and wecom[1].name == "值班表.xlsx"
    assert (
        isinstance(wecom[2], Post)
        and wecom[2].body["image"]["md5"]
        == hashlib.md5(b"\x89PNG", usedforsecurity=False).hexdigest()
    )
    [dingtalk] = requests(roster, Group(RobotKind.dingtalk), same)
    assert isinstance(dingtalk, Post) and dingtalk.body["msgtype"] == "markdown"
    assert "表格已发到 Telegram 和企业微信群。" in dingtalk.body["markdown"]["text"]


def test_a_dingtalk_mention_is_in_at_and_in_the_text() -> None:
    group = Group(RobotKind.dingtalk, mobiles=("13812345678",))
    [request] = requests(notice(), group, same)
    assert isinstance(request, Post)
    assert request.body["at"]["atMobiles"] == ["13812345678", "13900001111"]
    assert "@13812345678" in request.body["markdown"]["text"]


def test_feishu_names_the_responsible_person_with_their_phone() -> None:
    [request] = requests(notice(), Group(RobotKind.feishu), same)
    assert isinstance(request, Post)
    assert "sign" not in request.body and "timestamp" not in request.body
    paragraphs = request.body["content"]["post"]["zh_cn"]["content"]
    assert [{"tag": "text", "text": "Responsible: 王老师, phone 13900001111"}] in paragraphs


@pytest.mark.parametrize("shape", [WECOM_TEXT, WECOM_MARKDOWN, DINGTALK_MARKDOWN, FEISHU_POST])
def test_long_messages_are_split_within_the_byte_limit_never_truncated(shape: object) -> None:
    from bot.robots.platforms import Shape

    assert isinstance(shape, Shape)
    lines = [f'第{n}行：张小明的家访已逾期，请负责人处理。"引号" 与\\反斜杠' for n in range(900)]
    lines.append("长" * 30_000)  # one line longer than any message: cut by character
    mentions = ("13812345678",)
    parts = split("逾期汇总", lines, shape, mentions)
    assert len(parts) > 1
    for number, (title, part) in enumerate(parts, 1):
        assert title == f"逾期汇总（{number}/{len(parts)}）"
        assert shape.size(title, part, mentions) <= shape.limit
        body = json_bytes(shape.body(title, part, mentions))
        assert shape is WECOM_TEXT or shape is WECOM_MARKDOWN or len(body) <= shape.limit
    assert "".join(line for _, part in parts for line in part) == "".join(lines)


def test_a_short_message_is_one_part_without_a_number() -> None:
    assert split("标题", ["一行"], WECOM_MARKDOWN) == [("标题", ["一行"])]


# --- signatures and answers ----------------------------------------------------------


def test_dingtalk_signs_timestamp_newline_secret_keyed_by_the_secret() -> None:
    query = dingtalk_signature("SECxyz", 1_700_000_000_000)
    timestamp, sign = (part.split("=", 1)[1] for part in query.lstrip("&").split("&"))
    expected = hmac.new(b"SECxyz", b"1700000000000\nSECxyz", hashlib.sha256).digest()
    assert timestamp == "1700000000000"
    assert base64.b64decode(unquote_plus(sign)) == expected


def test_feishu_signs_nothing_keyed_by_timestamp_newline_secret() -> None:
    expected = hmac.new(b"1700000000\nsecret", b"", hashlib.sha256).digest()
    assert base64.b64decode(feishu_sign("secret", 1_700_000_000)) == expected


@pytest.mark.parametrize(
    ("kind", "body", "outcome", "wait"),
    [
        (RobotKind.wecom, {"errcode": 0, "errmsg": "ok"}, Outcome.ok, 0),
        (
            RobotKind.wecom,
            {"errcode": 45009, "errmsg": "api freq out of limit"},
            Outcome.throttled,
            60,
        ),
        (RobotKind.wecom, {"errcode": 93000, "errmsg": "invalid webhook url"}, Outcome.broken, 0),
        (RobotKind.wecom, {"errcode": 40058, "errmsg": "too long"}, Outcome.rejected, 0),
        (
            RobotKind.dingtalk,
            {"errcode": 130101, "errmsg": "send too fast"},
            Outcome.throttled,
            600,
        ),
        (RobotKind.dingtalk, {"errcode": 310000, "errmsg": "sign not match"}, Outcome.broken, 0),
        (
            RobotKind.dingtalk,
            {"errcode": 300001, "errmsg": "token is not exist"},
            Outcome.broken,
            0,
        ),
        (RobotKind.feishu, {"code": 0, "msg": "success"}, Outcome.ok, 0),
        (RobotKind.feishu, {"code": 11232, "msg": "frequency limited"}, Outcome.throttled, 30),
        (RobotKind.feishu, {"code": 19021, "msg": "sign match fail"}, Outcome.broken, 0),
        (RobotKind.feishu, {"StatusCode": 0, "StatusMessage": "success"}, Outcome.ok, 0),
    ],
)
def test_answers_are_read_from_the_body_not_the_status(
    kind: RobotKind, body: dict[str, object], outcome: Outcome, wait: int
) -> None:
    answer, _ = read_answer(kind, 200, json.dumps(body))
    assert answer.outcome is outcome
    assert answer.retry_after == dt.timedelta(seconds=wait)


def test_no_readable_answer_is_uncertain() -> None:
    assert read_answer(RobotKind.wecom, 502, "<html>")[0].outcome is Outcome.uncertain
    assert read_answer(RobotKind.feishu, 200, "[]")[0].outcome is Outcome.uncertain


# --- the pace --------------------------------------------------------------------------

T0 = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)


def test_twenty_a_minute_then_wait_for_the_oldest_to_leave_the_window() -> None:
    limit = LIMITS[RobotKind.dingtalk]
    sent = [T0 + dt.timedelta(seconds=n) for n in range(20)]
    now = T0 + dt.timedelta(seconds=20)
    assert wait_for_slot(sent[:19], None, now, limit) == dt.timedelta(0)
    wait = wait_for_slot(sent, None, now, limit)
    assert dt.timedelta(seconds=40) < wait <= dt.timedelta(seconds=43)


def test_feishu_five_a_second() -> None:
    limit = LIMITS[RobotKind.feishu]
    sent = [T0 + dt.timedelta(milliseconds=100 * n) for n in range(5)]
    wait = wait_for_slot(sent, None, T0 + dt.timedelta(milliseconds=500), limit)
    assert dt.timedelta(0) < wait <= dt.timedelta(seconds=1)


def test_a_hold_waits_whatever_the_count() -> None:
    limit = LIMITS[RobotKind.wecom]
    wait = wait_for_slot([], T0 + dt.timedelta(minutes=10), T0, limit)
    assert wait == dt.timedelta(minutes=10)


def test_a_burst_is_one_digest_that_keeps_every_notice_and_mention() -> None:
    from bot.robots.render import digest

    first = notice()
    second = notice(
        title="紧急情况：李小花", responsible="赵主任", phone="13700002222", child_names=("李小花",)
    )
    merged = digest("3 条提醒", [first, second], same)
    group = Group(RobotKind.dingtalk, mask_child_names=True)
    [request] = requests(merged, group, same)
    assert isinstance(request, Post)
    text = request.body["markdown"]["text"]
    # markdown: a full-width star, so two masked names never read as *emphasis*
    assert "【逾期家访：张＊明】" in text and "【紧急情况：李＊花】" in text
    assert "Responsible: 赵主任, phone 13700002222" in text
    assert request.body["at"]["atMobiles"] == ["13900001111", "13700002222"]


def test_a_file_too_big_for_wecom_is_said_not_sent() -> None:
    big = Attachment("记录表.xlsx", b"x" * (20 * 1024 * 1024 + 1))
    sent = requests(notice(mention=False, files=(big,)), Group(RobotKind.wecom), same)
    assert [type(request) for request in sent] == [Post]
    assert isinstance(sent[0], Post)
    assert "记录表.xlsx is too big for this group" in sent[0].body["markdown"]["content"]
