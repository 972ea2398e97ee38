"""Content (`domain.delivery.content`) as a Bot API call: the Telegram front's renderer.

Text blocks are lines; emphasis is HTML (`parse_mode` only when a message has any, so a
plain message goes as it always did); actions are inline buttons whose callback data
the routers unpack (`bot.telegram.callbacks`); an attachment is a document or a photo
with the text as its caption; content that replaces an earlier message edits it.
"""

from __future__ import annotations

import html
from typing import Any

from bot.telegram.callbacks import (
    EscalationAct,
    EscalationAction,
    IncidentPage,
    ReviewAct,
    ReviewAction,
)
from domain.delivery.content import (
    Action,
    ActionKind,
    AttachmentKind,
    Content,
    Emphasis,
    Span,
)

SEND_MESSAGE = "sendMessage"
SEND_DOCUMENT = "sendDocument"
SEND_PHOTO = "sendPhoto"
EDIT_MESSAGE_TEXT = "editMessageText"

_ESCALATION_ACTS = {
    ActionKind.take_escalation: EscalationAct.take,
    ActionKind.reassign_escalation: EscalationAct.reassign,
    ActionKind.resolve_escalation: EscalationAct.resolve,
}
_REVIEW_ACTS = {
    ActionKind.approve_checkin: ReviewAct.approve,
    ActionKind.question_checkin: ReviewAct.question,
    ActionKind.reject_checkin: ReviewAct.reject,
    ActionKind.answer_question: ReviewAct.answer,
}
_TAGS = {Emphasis.strong: "b", Emphasis.quiet: "i"}


def callback_data(action: Action) -> str:
    if action.kind is ActionKind.open_incident:
        return IncidentPage(escalation_id=action.subject).pack()
    if (act := _REVIEW_ACTS.get(action.kind)) is not None:
        return ReviewAction(checkin_id=action.subject, act=act).pack()
    return EscalationAction(escalation_id=action.subject, act=_ESCALATION_ACTS[action.kind]).pack()


def _html(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    tag = _TAGS.get(span.emphasis)
    return text if tag is None else f"<{tag}>{text}</{tag}>"


def call(content: Content) -> tuple[str, dict[str, Any]]:
    """The Bot API method and its parameters but the chat (and a file's bytes: `path` is
    relative to MEDIA_DIR). The keyboard is the Bot API's JSON, built directly: aiogram's
    keyboard builder deep-copies every button, too slow for a district's first of the
    month."""
    payload: dict[str, Any] = {}
    emphasised = any(s.emphasis is not Emphasis.plain for b in content.blocks for s in b.spans)
    if emphasised:
        text = "\n".join("".join(map(_html, block.spans)) for block in content.blocks)
        payload["parse_mode"] = "HTML"
    else:
        text = content.text
    if content.actions:
        payload["reply_markup"] = {
            "inline_keyboard": [
                [{"text": a.label, "callback_data": callback_data(a)} for a in row]
                for row in content.actions
            ]
        }
    attachment = content.attachment
    if attachment is not None:
        payload["path"] = attachment.path
        payload["filename"] = attachment.name
        if text:
            payload["caption"] = text
        if attachment.kind is AttachmentKind.picture:
            return SEND_PHOTO, payload
        return SEND_DOCUMENT, payload
    payload["text"] = text
    if content.replaces is not None:
        payload["message_id"] = int(content.replaces)
        return EDIT_MESSAGE_TEXT, payload
    return SEND_MESSAGE, payload
