"""Charts of the stewards' page, drawn as inline SVG: stacked columns over days or runs (with rows of coloured
state cells under them, e.g. a run's outcome) and stacked horizontal bars per category.

Hand-written rather than a plotting library: the page needs a handful of bar charts, and SVG written here is a
few kilobytes of markup with real ``<text>`` (searchable, printable, testable in the DOM), needs no dependency,
no font files and no JavaScript, and renders the same in every browser and offline. Every bar carries a
``<title>`` (the browser's tooltip) with its exact count. Callers pass counts and names only; every string is
escaped here.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

# Okabe-Ito (colour-blind safe) first, then a few distinct extras for charts with many series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#7F7F7F", "#8C564B", "#9467BD", "#17BECF", "#BCBD22", "#1F3A5F")
GOOD, BAD, WARN, NEUTRAL = "#2e8b57", "#c0392b", "#e69f00", "#b0b0b0"

FONT = 11          # px, axis and value labels
_CHAR = 6.2        # approximate width of one character at FONT px (for label spacing and truncation)


@dataclass(frozen=True)
class Series:
    """One stacked part of every column (or bar): a name for the legend, one value per category, a colour."""
    name: str
    values: Sequence[float]
    color: str


@dataclass(frozen=True)
class Strip:
    """A row of coloured cells under the columns: one state per category (a run's outcome, its verification)."""
    name: str
    states: Sequence[str]
    colors: Mapping[str, str]


def colors(names: Sequence[str]) -> dict[str, str]:
    """A stable colour per name, in the order given."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float) -> str:
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return text.replace(",", "\u202f")


def _ticks(top: float) -> list[float]:
    """0 and 3 to 6 round steps that reach at least ``top`` (counts: the step is never below 1)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 2.5, 5, 10) if magnitude >= 10 else (1, 2, 5, 10)   # no step of 2.5 rows
    step = max(next(m * magnitude for m in steps if m * magnitude * 4 >= top), 1.0)
    return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def legend(series: Sequence[Series] = (), strips: Sequence[Strip] = ()) -> str:
    items = [(s.color, s.name) for s in series]
    for strip in strips:
        items += [(c, f"{strip.name}: {state}") for state, c in strip.colors.items() if state in strip.states]
    return '<ul class="legend">' + "".join(
        f'<li><span class="swatch" style="background:{_e(c)}"></span>{_e(n)}</li>' for c, n in items) + "</ul>"


def _figure(title: str, svg: str, note: str, series: Sequence[Series], strips: Sequence[Strip], width: int) -> str:
    caption = f"<figcaption><strong>{_e(title)}</strong>" + (f" <span>{_e(note)}</span>" if note else "")
    return (f'<figure class="chart" style="width:{width}px">{caption}</figcaption>{svg}{legend(series, strips)}'
            "</figure>")


def _svg(title: str, width: int, height: float) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}" class="chart-svg" '
            f'viewBox="0 0 {width} {height:.0f}" width="{width}" height="{height:.0f}"><title>{_e(title)}</title>')


def _stack(category: str, series: Sequence[Series], i: int, unit: str,
           box: Callable[[float, float], tuple[float, float, float, float]]) -> list[str]:
    """The stacked parts of category ``i``; ``box(base, value)`` places one part: (x, y, width, height)."""
    out, base = [], 0.0
    for s in series:
        v = float(s.values[i])
        if v > 0:
            x, y, w, h = box(base, v)
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{_e(s.color)}">'
                       f'<title>{_e(category)} · {_e(s.name)}: {_fmt(v)} {_e(unit)}</title></rect>')
        base += v
    return out


def column_chart(title: str, categories: Sequence[str], series: Sequence[Series], *, unit: str,
                 strips: Sequence[Strip] = (), note: str = "", width: int = 540, height: int = 180) -> str:
    """Stacked columns, one per category (a day, a run), with a y axis, the total above each column when there is
    room, and ``strips`` of state cells under the x axis."""
    n = len(categories)
    label_w = max([len(s.name) for s in strips] + [0]) * _CHAR
    half_label = max((len(c) for c in categories), default=0) * _CHAR / 2     # x labels are centred
    left, right, top = max(48.0, label_w + 10), max(12.0, half_label + 2), 18.0
    strip_h, x_label_h = 14.0, 18.0
    bottom = x_label_h + len(strips) * (strip_h + 4) + 6
    plot_w, plot_h = width - left - right, float(height)
    total_h = top + plot_h + bottom
    totals = [sum(float(s.values[i]) for s in series) for i in range(n)]
    ticks = _ticks(max(totals, default=0))
    ymax = ticks[-1]
    slot = plot_w / max(n, 1)
    bar_w = max(1.0, min(slot * 0.72, 48.0))
    y = lambda v: top + plot_h - (v / ymax) * plot_h  # noqa: E731
    out = [_svg(title, width, total_h)]
    for t in ticks:
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    every = max(1, math.ceil(max(len(c) for c in categories) * _CHAR * 1.15 / slot)) if n else 1
    show_totals = slot >= (len(_fmt(max(totals, default=0))) * _CHAR + 2)
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar_w) / 2
        out += _stack(category, series, i, unit, lambda base, v: (x, y(base + v), bar_w, y(base) - y(base + v)))
        if show_totals and totals[i] > 0:
            out.append(f'<text class="value" x="{x + bar_w / 2:.1f}" y="{y(totals[i]) - 3:.1f}" '
                       f'text-anchor="middle">{_fmt(totals[i])}</text>')
        if i % every == 0:
            out.append(f'<text class="tick" x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 13:.1f}" '
                       f'text-anchor="middle">{_e(category)}</text>')
        for j, strip in enumerate(strips):
            state = strip.states[i]
            sy = top + plot_h + x_label_h + j * (strip_h + 4)
            out.append(f'<rect class="cell" x="{x:.1f}" y="{sy:.1f}" width="{bar_w:.1f}" height="{strip_h}" '
                       f'fill="{_e(strip.colors.get(state, NEUTRAL))}"><title>{_e(category)} · {_e(strip.name)}: '
                       f'{_e(state)}</title></rect>')
    for j, strip in enumerate(strips):
        sy = top + plot_h + x_label_h + j * (strip_h + 4)
        out.append(f'<text class="tick" x="{left - 6}" y="{sy + 11:.1f}" text-anchor="end">{_e(strip.name)}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
               f'<text class="unit" x="{left}" y="11">{_e(unit)}</text></svg>')
    return _figure(title, "".join(out), note, series, strips, width)


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series], *, unit: str, note: str = "",
              width: int = 540) -> str:
    """Stacked horizontal bars, one per category (an actor, a kind of request), the total at each bar's end."""
    n = len(categories)
    row, gap = 20.0, 8.0
    left = min(200.0, max(60.0, max((len(c) for c in categories), default=4) * _CHAR + 12))
    right, top = 56.0, 20.0
    plot_w = width - left - right
    totals = [sum(float(s.values[i]) for s in series) for i in range(n)]
    ticks = _ticks(max(totals, default=0))
    xmax = ticks[-1]
    x = lambda v: left + (v / xmax) * plot_w  # noqa: E731
    plot_h = n * (row + gap)
    total_h = top + plot_h + 18
    out = [_svg(title, width, total_h)]
    for t in ticks:
        out.append(f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + plot_h:.1f}"/>'
                   f'<text class="tick" x="{x(t):.1f}" y="{top + plot_h + 13:.1f}" '
                   f'text-anchor="middle">{_fmt(t)}</text>')
    limit = int((left - 12) / _CHAR)
    for i, category in enumerate(categories):
        y0 = top + i * (row + gap) + gap / 2
        shown = category if len(category) <= limit else category[:limit - 1] + "…"
        out.append(f'<text class="label" x="{left - 8}" y="{y0 + row / 2 + 4:.1f}" text-anchor="end">'
                   f'<title>{_e(category)}</title>{_e(shown)}</text>')
        out += _stack(category, series, i, unit, lambda base, v: (x(base), y0, x(base + v) - x(base), row))
        out.append(f'<text class="value" x="{x(totals[i]) + 4:.1f}" y="{y0 + row / 2 + 4:.1f}">'
                   f'{_fmt(totals[i])}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h:.1f}"/>'
               f'<text class="unit" x="{left}" y="12">{_e(unit)}</text></svg>')
    return _figure(title, "".join(out), note, series, (), width)
