"""The roster chart's Chinese comes from a font in the Python dependencies, registered by
path: no apt-get step, and no dependence on matplotlib's font cache having been built
after a font was installed."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from matplotlib.font_manager import FontManager

from domain.reports.rosters import Completion
from domain.wording.charts import (
    MissingCjkFont,
    completion_chart,
    find_cjk_font,
    packaged_font_file,
)


def stale_font_cache() -> FontManager:
    """A font cache made before any CJK font was installed: it knows none."""
    manager = FontManager()
    manager.ttflist = [
        entry
        for entry in manager.ttflist
        if not any(family in entry.name for family in ("CJK", "SC", "WenQuanYi"))
    ]
    return manager


def test_the_dependencies_ship_noto_sans_cjk_sc() -> None:
    font = packaged_font_file()

    assert font is not None and font.stat().st_size > 10_000_000


def test_the_packaged_font_is_found_whatever_the_font_cache_knows() -> None:
    font = find_cjk_font(packaged_font_file(), system_dirs=(), manager=stale_font_cache())

    assert font.get_family() == ["Noto Sans CJK SC"]


def test_a_system_font_is_the_fallback(tmp_path: Path) -> None:
    packaged = packaged_font_file()
    assert packaged is not None
    (tmp_path / "opentype" / "noto").mkdir(parents=True)
    (tmp_path / "opentype" / "noto" / "NotoSansCJK-Regular.ttc").symlink_to(packaged)

    font = find_cjk_font(None, system_dirs=[tmp_path], manager=stale_font_cache())

    assert font.get_family() == ["Noto Sans CJK SC"]


def test_without_any_cjk_font_the_error_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingCjkFont, match="noto-cjk-sans-otc"):
        find_cjk_font(None, system_dirs=[tmp_path], manager=stale_font_cache())


def test_the_chart_draws_every_chinese_glyph() -> None:
    bars = [Completion("中和小学", 10, 7), Completion("关爱留守儿童中心", 10, 4)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)"
        png = completion_chart(
            bars,
            title="中和镇：十一月完成情况",
            axis_label="完成项目 (%)",
            nothing_label="无可统计",
        )

    assert png.startswith(b"\x89PNG")
