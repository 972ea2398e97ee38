"""How Matrix shows a message's choices, and which code of an invitation it reads."""

from __future__ import annotations

from bot.matrix.conversation import invitation_code
from bot.matrix.render import numbered
from domain.delivery.content import Action, ActionKind, Content
from domain.language import speaking


def test_actions_become_one_numbered_line_and_the_offer_keeps_their_order() -> None:
    content = Content.lines(
        ["⏰ 李小花：必访未访"],
        actions=[
            [
                Action(ActionKind.take_escalation, "我来处理", 12),
                Action(ActionKind.reassign_escalation, "改派", 12),
            ],
            [Action(ActionKind.resolve_escalation, "已解决", 12)],
        ],
    )
    with speaking("zh"):
        text, offered = numbered(content)
    assert text == "⏰ 李小花：必访未访\n\n回复 1 我来处理 · 2 改派 · 3 已解决"
    assert offered == [
        (ActionKind.take_escalation, 12),
        (ActionKind.reassign_escalation, 12),
        (ActionKind.resolve_escalation, 12),
    ]


def test_a_message_without_actions_offers_nothing() -> None:
    assert numbered(Content.lines(["✋ 李小花：王校长已接手处理"])) == (
        "✋ 李小花：王校长已接手处理",
        [],
    )


def test_the_code_is_read_from_the_link_or_alone_and_nothing_else_is_one() -> None:
    code = "AbCdEfGhIjKlMnOpQrStUvWx"
    assert invitation_code(f"https://t.me/guanai_bot?start={code}") == code
    assert invitation_code(f"  {code} ") == code
    assert invitation_code("你好") is None
    assert invitation_code("13800138000") is None  # a phone number is not a code
