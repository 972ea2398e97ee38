"""`.env.example` lists every setting the code reads, each with a comment above it."""

from __future__ import annotations

import re
from pathlib import Path

from guanai.settings import EXAMPLE_BOT_TOKEN, Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
SETTING_LINE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def aliases() -> set[str]:
    return {str(field.validation_alias) for field in Settings.model_fields.values()}


def test_every_setting_is_in_the_example_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    listed: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = SETTING_LINE.match(line)
        if match is None:
            continue
        name, value = match.groups()
        above = lines[number - 1] if number else ""
        assert above.startswith("# ") and not SETTING_LINE.match(above), f"{name} has no comment"
        listed[name] = value

    assert set(listed) == aliases()
    assert listed["BOT_TOKEN"] == EXAMPLE_BOT_TOKEN


def test_the_examples_defaults_are_the_codes() -> None:
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING_LINE.match(line)
        if match is None or not line.startswith("# "):
            continue
        name, value = match.groups()
        if not value:
            continue  # `# NAME=` documents a setting that is unset by default
        field, info = next(
            (key, info)
            for key, info in Settings.model_fields.items()
            if info.validation_alias == name
        )
        parsed = Settings.model_validate({name: value})
        assert getattr(parsed, field) == info.default, name
