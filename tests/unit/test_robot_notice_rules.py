"""What a robot says of an outbox row: the message's words, its actions as words (a
group's reader cannot press a button), who is responsible with their phone, its files;
children's names masked where the group asks."""

from __future__ import annotations

from pathlib import Path

from bot.robots.outbox import notice_of
from bot.robots.render import Group, requests
from domain.delivery.content import Action, ActionKind, Content
from domain.kinds import RobotKind

CONTENT = Content.lines(
    ["⏰ 逾期（第 1 级）：张小明，中和小学", "事项：家访"],
    actions=[
        [
            Action(ActionKind.take_escalation, "✋ 我来处理", 12),
            Action(ActionKind.resolve_escalation, "✅ 已解决", 12),
        ]
    ],
)
FRONT = {"responsible": "王校长", "phone": "13912345678", "mention": True, "files": []}


def test_the_actions_are_words_and_the_responsible_person_is_named_with_their_phone() -> None:
    notice = notice_of(CONTENT, FRONT, Path("/nonexistent"))

    assert notice.title == "⏰ 逾期（第 1 级）：张小明，中和小学"
    assert notice.lines == ("事项：家访",)
    assert len(notice.actions) == 1 and "✋ 我来处理 · ✅ 已解决" in notice.actions[0]
    assert (notice.responsible, notice.phone, notice.mention) == ("王校长", "13912345678", True)


def test_a_group_that_masks_names_reads_zhang_star_ming_and_hears_where_the_file_is(
    tmp_path: Path,
) -> None:
    (tmp_path / "roster.xlsx").write_bytes(b"PK workbook")
    front = {**FRONT, "files": [{"kind": "document", "path": "roster.xlsx", "name": "周报.xlsx"}]}
    notice = notice_of(CONTENT, front, tmp_path, child_names=("张小明",))

    said = [str(r) for r in requests(notice, Group(RobotKind.dingtalk, (), True), str)]

    assert len(said) == 1  # DingTalk takes no file: it is named instead
    assert (
        "张＊明" in said[0] and "张小明" not in said[0]
    )  # full width in markdown and "周报.xlsx" in said[0]
    assert notice.files[0].data == b"PK workbook"
