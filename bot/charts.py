"""Charts for rosters, drawn with matplotlib's object API on the Agg canvas.

No pyplot: it keeps global state and picks a GUI backend; a worker only needs PNG bytes.
Chinese labels need a CJK font (Debian's fonts-wqy-microhei or fonts-noto-cjk); without
one matplotlib would draw empty boxes, so drawing refuses to start instead.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from domain.rosters import Completion

CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
)


class MissingCjkFont(RuntimeError):
    """No font that draws Chinese is installed: an installation fault, not a user's."""


@functools.cache
def cjk_font() -> FontProperties:
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        return FontProperties(fname=path)
    raise MissingCjkFont(
        "no CJK font found for chart labels: install fonts-wqy-microhei or fonts-noto-cjk"
    )


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
