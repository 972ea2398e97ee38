"""A message as content, whatever the channel: text blocks with emphasis, the actions a
person may take, an attachment. The core builds it; each front renders it its own way,
at send time (Telegram: HTML and inline keyboards; a robot that cannot show buttons: the
actions as words, `plain_text` / `markdown` below).

Actions say what they do in domain terms and carry ids (take escalation 12), never a
front's encoding of them (a Telegram callback string). The outbox stores `to_json()`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any


class Emphasis(enum.StrEnum):
    plain = "plain"
    strong = "strong"  # bold where the front can
    quiet = "quiet"  # italic where the front can


@dataclass(frozen=True)
class Span:
    text: str
    emphasis: Emphasis = Emphasis.plain


@dataclass(frozen=True)
class Block:
    """One line (or paragraph) of the message; no spans is an empty line."""

    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, text: str, emphasis: Emphasis = Emphasis.plain) -> Block:
        return cls((Span(text, emphasis),)) if text else cls()

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


class ActionKind(enum.StrEnum):
    """What a person may do from a message; `Action.subject` is the id it acts on."""

    take_escalation = "take_escalation"  # 我来处理
    reassign_escalation = "reassign_escalation"  # 改派
    resolve_escalation = "resolve_escalation"  # 已解决
    open_incident = "open_incident"  # an emergency's page: steps, photos, contacts
    approve_checkin = "approve_checkin"  # 审核: 通过
    question_checkin = "question_checkin"  # 审核: 询问 (the volunteer is asked)
    reject_checkin = "reject_checkin"  # 审核: 退回
    answer_question = "answer_question"  # the volunteer answers the coordinator's question


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    label: str  # in the reader's language, as a button or a word says it
    subject: int


class AttachmentKind(enum.StrEnum):
    document = "document"  # a workbook: sent as a file
    picture = "picture"  # a chart: shown inline


@dataclass(frozen=True)
class Attachment:
    """A stored file (relative to MEDIA_DIR, where jobs write rosters and charts) and the
    name the reader sees; the message's text goes with it as its caption."""

    kind: AttachmentKind
    path: str
    name: str

    def __post_init__(self) -> None:
        path = PurePosixPath(self.path)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError("an attachment's path is relative to MEDIA_DIR and stays inside it")


@dataclass(frozen=True)
class Content:
    blocks: tuple[Block, ...] = ()
    actions: tuple[tuple[Action, ...], ...] = ()  # rows, as a front lays them out
    attachment: Attachment | None = None
    # The front's reference (`sent_ref`) of an earlier message at the same address that
    # this one rewrites (an escalation's copy saying who took it); None: a new message.
    replaces: str | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.text and self.attachment is None:
            raise ValueError("a message needs a text or an attachment")

    @classmethod
    def lines(
        cls,
        lines: Iterable[str],
        *,
        actions: Sequence[Sequence[Action]] = (),
        attachment: Attachment | None = None,
    ) -> Content:
        """Plain lines (a line may hold newlines of its own), one block each."""
        return cls(
            blocks=tuple(Block.of(line) for line in lines),
            actions=tuple(tuple(row) for row in actions if row),
            attachment=attachment,
        )

    @property
    def text(self) -> str:
        """The words without emphasis, one block a line."""
        return "\n".join(block.text for block in self.blocks)

    def followed_by(self, line: str) -> Content:
        """The message with a line added after an empty one."""
        return replace(self, blocks=(*self.blocks, Block(), Block.of(line)))

    def without_actions_on(self, subject: int) -> Content:
        """The message without the actions on `subject` (a digest keeps the others')."""
        rows = tuple(row for row in self.actions if not any(a.subject == subject for a in row))
        return replace(self, actions=rows)

    def replacing(self, sent_ref: str) -> Content:
        return replace(self, replaces=sent_ref)

    # JSON, as the outbox stores it -----------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"blocks": [[_span_json(s) for s in b.spans] for b in self.blocks]}
        if self.actions:
            data["actions"] = [
                [{"kind": a.kind.value, "label": a.label, "subject": a.subject} for a in row]
                for row in self.actions
            ]
        if self.attachment is not None:
            data["attachment"] = {
                "kind": self.attachment.kind.value,
                "path": self.attachment.path,
                "name": self.attachment.name,
            }
        if self.replaces is not None:
            data["replaces"] = self.replaces
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Content:
        attachment = data.get("attachment")
        return cls(
            blocks=tuple(Block(tuple(_span(s) for s in b)) for b in data.get("blocks", ())),
            actions=tuple(
                tuple(
                    Action(ActionKind(a["kind"]), str(a["label"]), int(a["subject"])) for a in row
                )
                for row in data.get("actions", ())
            ),
            attachment=None
            if attachment is None
            else Attachment(
                AttachmentKind(attachment["kind"]), str(attachment["path"]), str(attachment["name"])
            ),
            replaces=data.get("replaces"),
        )


def _span_json(span: Span) -> str | list[str]:
    """A plain span is its text; an emphasised one [text, emphasis]: rows stay small."""
    return span.text if span.emphasis is Emphasis.plain else [span.text, span.emphasis.value]


def _span(data: str | list[str]) -> Span:
    if isinstance(data, str):
        return Span(data)
    return Span(data[0], Emphasis(data[1]))


# Fronts that cannot show buttons ------------------------------------------------------


def plain_text(content: Content) -> str:
    """The message as plain text, its actions as words on the last lines (a front without
    buttons, a group robot, shows what may be done, in the reader's words) and a file by
    its name (the front sends it apart, or says where it is)."""
    return "\n".join([content.text, *_after_text(content, lambda label: label)]).strip("\n")


def markdown(content: Content) -> str:
    """The message as Markdown (robots of WeCom, DingTalk and Feishu read it): strong as
    **bold**, quiet as *italic*, actions as words."""
    lines = ["".join(_markdown_span(span) for span in block.spans) for block in content.blocks]
    words = _after_text(content, lambda label: f"**{_markdown_escape(label)}**")
    return "\n".join([*lines, *words]).strip("\n")


def _after_text(content: Content, show: Callable[[str], str]) -> list[str]:
    lines = []
    if content.attachment is not None:
        lines += ["", f"📎 {content.attachment.name}"]
    if content.actions:
        lines += ["", *(" · ".join(show(a.label) for a in row) for row in content.actions)]
    return lines


_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#"})


def _markdown_escape(text: str) -> str:
    return text.translate(_MARKDOWN_SPECIAL)


def _markdown_span(span: Span) -> str:
    text = _markdown_escape(span.text)
    if span.emphasis is Emphasis.strong:
        return f"**{text}**"
    if span.emphasis is Emphasis.quiet:
        return f"*{text}*"
    return text
