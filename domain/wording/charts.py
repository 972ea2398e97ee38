"""Charts for rosters, drawn with matplotlib's object API on the Agg canvas.

No pyplot: it keeps global state and picks a GUI backend; a worker only needs PNG bytes.
Chinese labels need a CJK font. It comes with the Python dependencies (Noto Sans CJK SC,
in the `noto-cjk-sans-otc` package, SIL OFL 1.1); a system font (fonts-noto-cjk,
fonts-wqy-microhei) is the fallback. Either is handed to matplotlib by its path, so nothing
depends on matplotlib's font cache having been built after the font was installed.
Without any, matplotlib would draw empty boxes, so drawing refuses to start instead.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontManager, FontProperties

from domain.errors import DomainError
from domain.reports.rosters import Completion

# the font that comes with the dependencies: (package, file in it)
PACKAGED_FONT = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
# files of the system's CJK fonts, by name, for a deployment without the package
SYSTEM_FONT_FILES = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "SourceHanSansSC-Regular.otf",
)
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
)
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


class MissingCjkFont(DomainError):
    """No font that draws Chinese is installed: an installation fault, not a user's; the
    message says what to install (processes that draw charts check at start)."""

    message = (
        "no font that draws Chinese for the roster charts: run `uv sync` (it installs "
        "noto-cjk-sans-otc), or install fonts-noto-cjk."
    )


def packaged_font_file() -> Path | None:
    package, name = PACKAGED_FONT
    try:
        path = Path(str(importlib.resources.files(package).joinpath(name)))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def system_font_files(dirs: Sequence[Path] = SYSTEM_FONT_DIRS) -> list[Path]:
    return [
        path
        for directory in dirs
        if directory.is_dir()
        for path in sorted(directory.rglob("*"))
        if path.name in SYSTEM_FONT_FILES
    ]


def find_cjk_font(
    packaged: Path | None,
    system_dirs: Sequence[Path] = SYSTEM_FONT_DIRS,
    manager: FontManager | None = None,
) -> FontProperties:
    """Register the CJK font files by path (the packaged one, else the system's), then
    pick the first CJK family matplotlib can draw with."""
    manager = manager or font_manager.fontManager
    files = [packaged] if packaged is not None else system_font_files(system_dirs)
    for path in files:
        manager.addfont(path)
    for family in CJK_FAMILIES:
        wanted = FontProperties(family=family)
        try:
            manager.findfont(wanted, fallback_to_default=False)
        except ValueError:
            continue
        return wanted
    raise MissingCjkFont()


@functools.cache
def cjk_font() -> FontProperties:
    return find_cjk_font(packaged_font_file(), SYSTEM_FONT_DIRS)


def completion_chart(
    bars: Sequence[Completion], *, title: str, axis_label: str, nothing_label: str
) -> bytes:
    """Horizontal bars of this month's completion, one per site (or township), as PNG; a
    site where nothing is due gets no bar but `nothing_label`, never a green 100 %."""
    font = cjk_font()
    height = 1.2 + 0.32 * max(len(bars), 1)
    figure = Figure(figsize=(7, height), dpi=100)
    # fixed margins: matplotlib's automatic layout costs as much again as the drawing
    longest = max((len(bar.name) for bar in bars), default=4)
    figure.subplots_adjust(
        left=min(0.45, 0.05 + 0.021 * longest),
        right=0.97,
        top=1 - 0.45 / height,
        bottom=0.6 / height,
    )
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = [bar.name for bar in bars]
    shares = [None if bar.share is None else 100 * bar.share for bar in bars]
    positions = range(len(bars))
    axes.barh(
        positions,
        [s or 0 for s in shares],
        color=["#d9534f" if (s or 0) < 60 else "#5cb85c" for s in shares],
    )
    axes.set_yticks(list(positions), names, fontproperties=font)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.set_xlabel(axis_label, fontproperties=font)
    axes.set_title(title, fontproperties=font)
    for position, share in zip(positions, shares, strict=True):
        if share is None:
            axes.text(1, position, nothing_label, va="center", fontsize=8, fontproperties=font)
        else:
            axes.text(min(share + 1, 88), position, f"{share:.0f}%", va="center", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
