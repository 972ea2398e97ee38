"""A message's content as Matrix shows it: plain text, its actions as a numbered list on
the last line ("回复 1 我来处理 · 2 改派 · 3 已解决"), since Matrix has no buttons."""

from __future__ import annotations

from dataclasses import replace

from bot.matrix.rooms import Offered
from domain.delivery.content import Content, plain_text
from domain.language import gettext as _


def numbered(content: Content) -> tuple[str, Offered]:
    """The text to send, and the choices it offers in the order of their numbers."""
    actions = [action for row in content.actions for action in row]
    text = plain_text(replace(content, actions=()))
    if not actions:
        return text, []
    choices = " · ".join(f"{n} {action.label}" for n, action in enumerate(actions, start=1))
    reply = _("Reply {choices}").format(choices=choices)
    return f"{text}\n\n{reply}", [(action.kind, action.subject) for action in actions]
