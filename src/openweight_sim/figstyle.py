"""Figure style shared by every chart: palette, history shading, legends, drawable text.

One place defines what a reader learns once and then recognises everywhere: each lab's
colour (the colour-blind-safe Okabe–Ito palette), the colours of other series, the hatched
history span with its labelled boundary on every time axis, legends placed outside the data,
and text (scenario names) reduced to what the installed fonts can draw, so that no figure
shows boxes or logs glyph warnings.
"""

from __future__ import annotations

import contextlib

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""The Okabe–Ito palette: eight colours told apart with every common colour-vision deficiency."""

LAB_COLORS = {
    "openai": OKABE_ITO["bluish_green"],
    "anthropic": OKABE_ITO["vermillion"],
    "google": OKABE_ITO["blue"],
    "meta": OKABE_ITO["reddish_purple"],
    "mistral": OKABE_ITO["orange"],
    "deepseek": OKABE_ITO["sky_blue"],
    "alibaba": OKABE_ITO["yellow"],
    "moonshot": "#555555",
}
"""One colour per lab, everywhere (run plots, dashboard): the Okabe–Ito palette, ordered so
that neighbouring bands of the stacked share plot differ in hue and lightness (dark grey
stands in for Okabe–Ito black, which would hide the history hatching)."""

SERIES_COLORS = [
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["orange"],
    OKABE_ITO["sky_blue"],
]
"""Colours of the series of a chart that is not by lab (scenarios of a fan chart, prices,
validation panels), in order: colour-blind safe, and never the history shading's grey."""

HISTORY_NOTE = "hatched: historical releases (to 2024Q4); after the dashed line: projection"
HISTORY_UNTIL = "2024Q4"
"""Last quarter of the replayed release history in the bundled scenarios (shaded)."""


def quarter_axis(
    ax,
    quarters: list[str],
    shade_until: str | None = None,
    spans: tuple[str, str] = ("history", "projection"),
) -> None:
    """The quarter axis: a tick per year at Q1, quarters up to ``shade_until`` shaded.

    The shaded span is drawn above filled areas and bars (a light hatch and tint) but below
    lines, and a dashed line with the two spans' names marks its end, so the boundary stays
    visible on stacked areas and fan bands too.

    Args:
        ax: the axes; x positions are indices into ``quarters``.
        quarters: the quarter labels of the x axis, in time order.
        shade_until: last quarter of a shaded span (history, in-sample window), if any.
        spans: names of the shaded span and of what follows it, written at the top.
    """
    ticks = [i for i, q in enumerate(quarters) if q.endswith("Q1")] or list(range(len(quarters)))
    ax.set_xticks(ticks, [quarters[i][:4] for i in ticks])
    ax.set_xlabel("Quarter (ticks at Q1)")
    if shade_until in quarters:
        end = quarters.index(shade_until) + 0.5
        ax.axvspan(-0.5, end, facecolor="0.5", alpha=0.10, lw=0, zorder=1.5)
        ax.axvspan(
            -0.5, end, facecolor="none", edgecolor=(0, 0, 0, 0.22), hatch="/", lw=0, zorder=1.6
        )
        ax.axvline(end, color="0.25", ls="--", lw=1.0, zorder=1.7)
        box = {"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1.5}
        trans = ax.get_xaxis_transform()
        for x, text, ha in ((end - 0.15, spans[0], "right"), (end + 0.15, spans[1], "left")):
            ax.text(
                x,
                0.985,
                text,
                transform=trans,
                ha=ha,
                va="top",
                fontsize=8,
                color="0.2",
                bbox=box,
                zorder=6,
            )
    ax.set_xlim(-0.5, len(quarters) - 0.5)
    ax.grid(alpha=0.3)


def display_text(text: str) -> str:
    """``text`` as the figures can draw it: characters no available font has are spelled out.

    Matplotlib's bundled DejaVu fonts cover Latin, Greek and Cyrillic (``Szenario–Öffnung``
    draws as written); a character that no installed font covers (e.g. Chinese without a CJK
    font) would draw as a box and log a warning per glyph, so it is written as ``U+5F00``.
    """
    missing = [ch for ch in dict.fromkeys(text) if not _drawable(ch)]
    for ch in missing:
        text = text.replace(ch, f"U+{ord(ch):04X}")
    return text


_GLYPHS: dict[str, bool] = {}


def _drawable(ch: str) -> bool:
    """Whether the figures' font (or an installed fallback of it) has a glyph for ``ch``."""
    if ch.isascii() or ch.isspace():
        return True
    if ch not in _GLYPHS:
        import matplotlib as mpl
        from matplotlib import font_manager
        from matplotlib.ft2font import FT2Font

        fonts = []
        for family in mpl.rcParams["font.family"]:  # the renderer falls back along this list
            with contextlib.suppress(ValueError):
                prop = font_manager.FontProperties(family=[family])
                fonts.append(font_manager.findfont(prop, fallback_to_default=False))
        _GLYPHS[ch] = any(FT2Font(f).get_char_index(ord(ch)) != 0 for f in fonts)
    return _GLYPHS[ch]


def outside_legend(ax, handles=None, labels=None, below: bool = False, **kwargs) -> None:
    """A legend outside the axes, never over the data: at the right, or ``below`` the x axis.

    Args:
        ax: the axes.
        handles: legend handles (default: the axes' own, with ``labels``).
        labels: their labels.
        below: under the x axis label (for a chart with a right-hand axis), in two columns.
        **kwargs: passed to ``Axes.legend``.
    """
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if below:
        where = {"loc": "upper left", "bbox_to_anchor": (0.0, -0.13), "ncol": 2}
    else:
        where = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}
    ax.legend(handles, labels, **({"fontsize": 9} | where | kwargs))
