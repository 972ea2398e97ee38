"""Outbox: an address and content, no Bot API call.

A row held a Telegram call (`chat_id`, `method`, a Bot API `payload` and the
`telegram_message_id` it got); it holds now an address (`channel`, `target`), the
content as a front-neutral JSON (`domain.delivery.content`: text blocks, actions with
the ids they act on, an attachment, the message it rewrites) and the front's id of the
sent message (`sent_ref`). Every row is carried over, pending or not: its text line by
line, its escalation buttons as actions, its file as an attachment, an edit as content
that replaces the message it edited. `outbox_pace` is keyed by channel and target; it
holds only the next few seconds' pace, so it starts afresh.

Downgrade turns Telegram rows back into calls; rows of other channels cannot be, and
are dropped.

Revision ID: c0a7e5d1f4b2
Revises: c4e1a7d2f816
Create Date: 2026-12-02 13:30:00.000000
"""

from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0a7e5d1f4b2"
down_revision: str | None = "c4e1a7d2f816"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = sa.text("status IN ('pending', 'sending')")
TELEGRAM = "telegram"
# escalation buttons: "esc:<id>:<act>" and "inc:<id>" (bot/telegram/callbacks.py)
ACTS = {
    "take": "take_escalation",
    "reassign": "reassign_escalation",
    "resolve": "resolve_escalation",
}
BATCH = 1000


def _blocks(text: str) -> list[list[str]]:
    return [[line] if line else [] for line in text.split("\n")]


def _action(button: dict[str, Any]) -> dict[str, Any] | None:
    parts = str(button.get("callback_data", "")).split(":")
    if parts[0] == "esc" and len(parts) == 3 and parts[1].isdigit() and parts[2] in ACTS:
        return {"kind": ACTS[parts[2]], "label": button["text"], "subject": int(parts[1])}
    if parts[0] == "inc" and len(parts) == 2 and parts[1].isdigit():
        return {"kind": "open_incident", "label": button["text"], "subject": int(parts[1])}
    return None


def content_of(method: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """A Bot API call as content; None for what cannot be carried (a file by Telegram's
    file_id, which no job queues)."""
    text = payload.get("text") or payload.get("caption") or ""
    content: dict[str, Any] = {"blocks": _blocks(text) if text else []}
    rows = []
    for row in (payload.get("reply_markup") or {}).get("inline_keyboard", []):
        actions = [a for a in map(_action, row) if a is not None]
        if actions:
            rows.append(actions)
    if rows:
        content["actions"] = rows
    if method in ("sendDocument", "sendPhoto"):
        if "path" not in payload:
            return None
        content["attachment"] = {
            "kind": "document" if method == "sendDocument" else "picture",
            "path": payload["path"],
            "name": payload.get("filename") or PurePosixPath(payload["path"]).name,
        }
    if method == "editMessageText":
        content["replaces"] = str(payload["message_id"])
    return content


def call_of(content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Content as the Bot API call it was before (the downgrade)."""
    text = "\n".join(
        "".join(s if isinstance(s, str) else s[0] for s in b) for b in content["blocks"]
    )
    payload: dict[str, Any] = {}
    if content.get("actions"):
        payload["reply_markup"] = {
            "inline_keyboard": [
                [
                    {
                        "text": a["label"],
                        "callback_data": f"inc:{a['subject']}"
                        if a["kind"] == "open_incident"
                        else f"esc:{a['subject']}:{a['kind'].partition('_')[0]}",
                    }
                    for a in row
                ]
                for row in content["actions"]
            ]
        }
    attachment = content.get("attachment")
    if attachment is not None:
        payload.update(path=attachment["path"], filename=attachment["name"])
        if text:
            payload["caption"] = text
        return ("sendDocument" if attachment["kind"] == "document" else "sendPhoto"), payload
    payload["text"] = text
    if content.get("replaces") is not None:
        payload["message_id"] = int(content["replaces"])
        return "editMessageText", payload
    return "sendMessage", payload


def _batches(query: str) -> Iterator[list[Any]]:
    rows = op.get_bind().execute(sa.text(query)).fetchall()
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def upgrade() -> None:
    op.add_column("outbox", sa.Column("channel", sa.String(32), nullable=True))
    op.add_column("outbox", sa.Column("target", sa.String(255), nullable=True))
    op.add_column("outbox", sa.Column("content", postgresql.JSONB(), nullable=True))
    op.add_column("outbox", sa.Column("sent_ref", sa.String(255), nullable=True))
    update = sa.text(
        "UPDATE outbox SET channel = :channel, target = :target, content = :content, "
        "sent_ref = :sent_ref WHERE id = :id"
    ).bindparams(sa.bindparam("content", type_=postgresql.JSONB()))
    lost = sa.text(
        "UPDATE outbox SET channel = :channel, target = :target, content = :content, "
        "status = CASE WHEN status IN ('pending', 'sending') THEN 'failed' ELSE status END, "
        "error = 'a file by file_id could not be carried over' WHERE id = :id"
    ).bindparams(sa.bindparam("content", type_=postgresql.JSONB()))
    query = "SELECT id, chat_id, method, payload, telegram_message_id FROM outbox ORDER BY id"
    for batch in _batches(query):
        carried, dropped = [], []
        for id_, chat_id, method, payload, message_id in batch:
            content = content_of(method, payload)
            values = {"id": id_, "channel": TELEGRAM, "target": str(chat_id)}
            if content is None:
                dropped.append({**values, "content": {"blocks": [[method]]}})
            else:
                sent_ref = None if message_id is None else str(message_id)
                carried.append({**values, "content": content, "sent_ref": sent_ref})
        if carried:
            op.get_bind().execute(update, carried)
        if dropped:
            op.get_bind().execute(lost, dropped)
    for column in ("channel", "target", "content"):
        op.alter_column("outbox", column, nullable=False)
    op.drop_index("ix_outbox_chat_unsettled", table_name="outbox", postgresql_where=UNSETTLED)
    for column in ("chat_id", "method", "payload", "telegram_message_id"):
        op.drop_column("outbox", column)
    op.create_index(
        "ix_outbox_chat_unsettled",
        "outbox",
        ["channel", "target", "id"],
        postgresql_where=UNSETTLED,
    )
    op.drop_table("outbox_pace")
    op.create_table(
        "outbox_pace",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recent", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=True),
        sa.PrimaryKeyConstraint("channel", "target", name=op.f("pk_outbox_pace")),
    )


def downgrade() -> None:
    op.execute(
        "UPDATE escalation_steps SET outbox_id = NULL WHERE outbox_id IN "
        f"(SELECT id FROM outbox WHERE channel <> '{TELEGRAM}')"
    )
    op.execute(f"DELETE FROM outbox WHERE channel <> '{TELEGRAM}'")
    op.add_column("outbox", sa.Column("chat_id", sa.BigInteger(), nullable=True))
    op.add_column("outbox", sa.Column("method", sa.String(32), nullable=True))
    op.add_column("outbox", sa.Column("payload", postgresql.JSONB(), nullable=True))
    op.add_column("outbox", sa.Column("telegram_message_id", sa.BigInteger(), nullable=True))
    update = sa.text(
        "UPDATE outbox SET chat_id = CAST(target AS bigint), method = :method, "
        "payload = :payload, telegram_message_id = CAST(sent_ref AS bigint) WHERE id = :id"
    ).bindparams(sa.bindparam("payload", type_=postgresql.JSONB()))
    for batch in _batches("SELECT id, content FROM outbox ORDER BY id"):
        values = []
        for id_, content in batch:
            method, payload = call_of(content)
            values.append({"id": id_, "method": method, "payload": payload})
        op.get_bind().execute(update, values)
    for column in ("chat_id", "method", "payload"):
        op.alter_column("outbox", column, nullable=False)
    op.drop_index("ix_outbox_chat_unsettled", table_name="outbox", postgresql_where=UNSETTLED)
    for column in ("channel", "target", "content", "sent_ref"):
        op.drop_column("outbox", column)
    op.create_index(
        "ix_outbox_chat_unsettled", "outbox", ["chat_id", "id"], postgresql_where=UNSETTLED
    )
    op.drop_table("outbox_pace")
    op.create_table(
        "outbox_pace",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recent", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_outbox_pace")),
    )
