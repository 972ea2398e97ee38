"""A notice as a robot's message on each platform: the requests that carry it.

The content renderer calls `requests` with a `Notice`: what the chat message says, with
its buttons written as words (a group's reader cannot press them), who is responsible
with their phone, and the files. A robot never receives children's photos, phones or
addresses: the notice carries none. Where a robot asks it, children's names are masked
(张小明 → 张*明).

Messages over a platform's byte limit are split into numbered parts, by line and, for a
line too long alone, by character: never truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.robots.platforms import (
    DINGTALK_MARKDOWN,
    FEISHU_POST,
    WECOM_FILE_BYTES,
    WECOM_IMAGE_BYTES,
    WECOM_MARKDOWN,
    WECOM_TEXT,
    Post,
    Request,
    Shape,
    Upload,
    unsigned,
    wecom_image,
)
from domain.kinds import RobotKind

Gettext = Callable[[str], str]


def _(msgid: str) -> str:
    """Marks a message id for the catalogue; the caller's gettext translates it."""
    return msgid


RESPONSIBLE = _("Responsible: {name}, phone {phone}")
RESPONSIBLE_NO_PHONE = _("Responsible: {name}")
FILES_ELSEWHERE = _("Files not shown here: {names}")
TOO_BIG = _("{name} is too big for this group; it was not sent here.")


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    image: bool = False  # a PNG chart (WeCom shows it inline), else a file (.xlsx)


@dataclass(frozen=True)
class Notice:
    """What a robot says, in words already translated; plain data from the content."""

    title: str
    lines: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()  # what to do and where, e.g. 在 Telegram 中按“我来处理”
    responsible: str | None = None  # the person who should act
    phone: str | None = None  # theirs: written out, and @mentioned where the platform can
    mention: bool = False  # call the group's mobiles too (escalations, emergencies)
    child_names: tuple[str, ...] = ()  # masked where the robot masks children's names
    files: tuple[Attachment, ...] = ()
    files_note: str | None = None  # where the files went, said where they cannot go
    extra_mentions: tuple[str, ...] = ()  # more mobiles to @mention (a digest's people)


@dataclass(frozen=True)
class Group:
    """What rendering needs of a robot: its platform and its choices."""

    kind: RobotKind
    mobiles: tuple[str, ...] = ()
    mask_child_names: bool = False


@dataclass
class _Said:
    title: str
    lines: list[str] = field(default_factory=list)


def mask_name(name: str, star: str = "*") -> str:
    """张小明 → 张*明, 李明 → 李*, 欧阳小明 → 欧**明: the family name and, beyond two
    characters, the last one."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + star
    return name[0] + star * (len(name) - 2) + name[-1]


def _masker(notice: Notice, group: Group, star: str) -> Callable[[str], str]:
    if not group.mask_child_names or not notice.child_names:
        return lambda text: text
    # longest first: 张小明 before 张小
    names = sorted({n for n in notice.child_names if n.strip()}, key=len, reverse=True)

    def mask(text: str) -> str:
        for name in names:
            text = text.replace(name, mask_name(name, star))
        return text

    return mask


def _said(notice: Notice, group: Group, shape: Shape, gettext: Gettext) -> _Said:
    mask = _masker(notice, group, shape.star)
    said = _Said(mask(notice.title), [mask(line) for line in notice.lines])
    said.lines += [mask(action) for action in notice.actions]
    said.lines += _responsible(notice, gettext)
    return said


def _responsible(notice: Notice, gettext: Gettext) -> list[str]:
    if not notice.responsible:
        return []
    if notice.phone:
        return [gettext(RESPONSIBLE).format(name=notice.responsible, phone=notice.phone)]
    return [gettext(RESPONSIBLE_NO_PHONE).format(name=notice.responsible)]


def _mentions(notice: Notice, group: Group) -> tuple[str, ...]:
    if not notice.mention:
        return ()
    found = [*group.mobiles, *([notice.phone] if notice.phone else []), *notice.extra_mentions]
    return tuple(dict.fromkeys(found))  # each once, in order


# how each platform writes a notice; WeCom writes one that @mentions as text instead
SHAPE = {
    RobotKind.wecom: WECOM_MARKDOWN,
    RobotKind.dingtalk: DINGTALK_MARKDOWN,
    RobotKind.feishu: FEISHU_POST,
}


def requests(notice: Notice, group: Group, gettext: Gettext) -> list[Request]:
    """The requests that carry `notice` to a robot of `group.kind`, in order."""
    mentions = _mentions(notice, group)
    shape = SHAPE[group.kind] if group.kind is not RobotKind.wecom or not mentions else WECOM_TEXT
    said = _said(notice, group, shape, gettext)
    files: list[Request] = []
    if group.kind is RobotKind.wecom:
        for attachment in notice.files:
            limit = WECOM_IMAGE_BYTES if attachment.image else WECOM_FILE_BYTES
            if len(attachment.data) > limit:
                said.lines.append(gettext(TOO_BIG).format(name=attachment.name))
            elif attachment.image:
                files.append(wecom_image(attachment.data))
            else:
                files.append(Upload(attachment.name, attachment.data))
    elif notice.files:
        said.lines.append(
            notice.files_note
            or gettext(FILES_ELSEWHERE).format(names="、".join(f.name for f in notice.files))
        )
    posts: list[Request] = []
    for number, (title, lines) in enumerate(split(said.title, said.lines, shape, mentions)):
        body = shape.body(title, lines, mentions if number == 0 else ())
        posts.append(Post(unsigned(body) if group.kind is RobotKind.feishu else body))
    return posts + files


def digest(title: str, notices: Sequence[Notice], gettext: Gettext) -> Notice:
    """Several notices for one robot as one: a burst goes out as a digest within the
    platform's pace instead of queueing for an hour. Each keeps its title, lines, actions
    and responsible person; mentions, names to mask and files are gathered."""
    lines: list[str] = []
    for notice in notices:
        lines.append(f"【{notice.title}】")
        lines += [*notice.lines, *notice.actions, *_responsible(notice, gettext)]
    phones = [n.phone for n in notices if n.mention and n.phone]
    return Notice(
        title=title,
        lines=tuple(lines),
        mention=any(n.mention for n in notices),
        child_names=tuple(dict.fromkeys(name for n in notices for name in n.child_names)),
        files=tuple(attachment for n in notices for attachment in n.files),
        files_note=next((n.files_note for n in notices if n.files_note), None),
        extra_mentions=tuple(
            dict.fromkeys([*phones, *(m for n in notices for m in n.extra_mentions)])
        ),
    )


# --- splitting -----------------------------------------------------------------------


def split(
    title: str, lines: Sequence[str], shape: Shape, mentions: Sequence[str] = ()
) -> list[tuple[str, list[str]]]:
    """(title, lines) parts each within `shape.limit`, numbered when more than one; every
    character of `lines` is in exactly one part, in order."""
    if shape.size(title, lines, mentions) <= shape.limit:
        return [(title, list(lines))]
    numbered = f"{title}（99/99）"  # the widest number a part can carry
    empty = shape.size(numbered, [], mentions)
    first = shape.size(numbered, [""], mentions) - empty  # a first line's own cost
    between = shape.size(numbered, ["", ""], mentions) - empty - first  # each next one's
    room = shape.limit - empty
    if room - first <= 0:
        raise ValueError("the title alone fills the message")
    parts: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        for piece in _pieces(line, room - first, shape.cost):
            extra = shape.cost(piece) + (between if current else first)
            if current and used + extra > room:
                parts.append(current)
                current, used = [], 0
                extra = shape.cost(piece) + first
            current.append(piece)
            used += extra
    if current:
        parts.append(current)
    return [(f"{title}（{n}/{len(parts)}）", part) for n, part in enumerate(parts, 1)]


def _pieces(line: str, room: int, cost: Callable[[str], int]) -> Iterator[str]:
    """A line cut at character boundaries into pieces of at most `room` bytes."""
    if cost(line) <= room:
        yield line
        return
    start, used = 0, 0
    for index, char in enumerate(line):
        width = cost(char)
        if used + width > room:
            yield line[start:index]
            start, used = index, 0
        used += width
    yield line[start:]
