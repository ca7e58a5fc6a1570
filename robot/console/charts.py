"""Charts drawn on the server as SVG: no JavaScript, nothing fetched, readable in any browser
and in a screenshot. Every label and title is escaped here (they may come from stored data:
scam types, script names), so the SVG can go into a page as it is.

- `bar_chart`: one horizontal bar per label, its value written beside it;
- `line_chart`: one line per series over the same points (e.g. calls per day), with a legend.

Sizes are in SVG user units; the SVG scales to its container (`viewBox`, width 100 %)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
FONT = 'font-family="sans-serif" font-size="12"'


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _attribute(text: str) -> str:
    return escape(text, quote=True)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str | None = None
    """The value as written beside the bar (default: the number)."""
    colour: str | None = None
    """Default: the palette's, in turn."""


def text_width(text: str, font_size: float = 12) -> float:
    """Roughly how wide `text` is drawn: CJK characters are about a square, others about half."""
    return sum(font_size if ord(ch) >= 0x2E80 else font_size * 0.6 for ch in text)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def bar_chart(bars: Sequence[Bar], *, title: str, width: float = 420, bar_height: float = 20, scale_max: float | None = None,
              empty: str = "-") -> str:
    """Horizontal bars, to scale with `scale_max` (default: the largest value); labels on the
    left, each value written after its bar. With no bars, `empty` is written."""
    gap = 6
    top = 8
    label_width = min(width * 0.45, max((text_width(bar.label) for bar in bars), default=40) + 10)
    shown = [bar.shown if bar.shown is not None else _number(bar.value) for bar in bars]
    value_width = max((text_width(text) for text in shown), default=20) + 10
    height = top * 2 + max(1, len(bars)) * (bar_height + gap)
    track = max(40.0, width - label_width - value_width)
    largest = scale_max or max((bar.value for bar in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" role="img" viewBox="0 0 {width:g} {height:g}" '
             f'width="100%" aria-label="{_attribute(title)}"><title>{escape(title)}</title>']
    if not bars:
        parts.append(f'<text x="{width / 2:g}" y="{top + bar_height * 0.7:g}" text-anchor="middle" {FONT} '
                     f'fill="#6b7280">{escape(empty)}</text>')
    for index, (bar, text) in enumerate(zip(bars, shown, strict=True)):
        y = top + index * (bar_height + gap)
        length = min(1.0, max(0.0, bar.value) / largest) * track
        colour = bar.colour or PALETTE[index % len(PALETTE)]
        parts.append(
            f'<g class="bar"><title>{escape(bar.label)}: {escape(text)}</title>'
            f'<text x="{label_width - 6:.1f}" y="{y + bar_height * 0.7:g}" text-anchor="end" {FONT}>{escape(bar.label)}</text>'
            f'<rect x="{label_width:.1f}" y="{y:g}" width="{length:.1f}" height="{bar_height:g}" fill="{colour}" '
            f'data-value="{_attribute(_number(bar.value))}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height * 0.7:g}" {FONT}>{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(largest: float, count: int = 4) -> list[float]:
    """Round steps from 0 to at least `largest`."""
    if largest <= 0:
        return [0, 1]
    raw = largest / count
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = step * -(-largest // step)
    return [step * n for n in range(int(top / step) + 1)]


def line_chart(x_labels: Sequence[str], series: Sequence[Series], *, title: str, width: float = 640, height: float = 240,
               label_every: int | None = None, value_text: Callable[[float], str] = _number) -> str:
    """Lines over the points of `x_labels` (one value per label in each series), a y axis from
    0 with round ticks, a label under every `label_every`-th point (default: about 8 labels),
    and a legend. A single point is drawn as dots."""
    if any(len(s.values) != len(x_labels) for s in series):
        raise ValueError("every series needs one value per x label")
    left, right, top, bottom = 48.0, 12.0, 28.0, 36.0
    plot_width, plot_height = width - left - right, height - top - bottom
    ticks = _ticks(max((v for s in series for v in s.values), default=0))
    top_value = ticks[-1]
    count = len(x_labels)
    every = label_every or max(1, -(-count // 8))

    def x(index: int) -> float:
        return left + (plot_width / 2 if count == 1 else index * plot_width / (count - 1))

    def y(value: float) -> float:
        return top + plot_height - value / top_value * plot_height

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart line-chart" role="img" viewBox="0 0 {width:g} {height:g}" '
             f'width="100%" aria-label="{_attribute(title)}"><title>{escape(title)}</title>']
    for tick in ticks:
        parts.append(f'<line x1="{left:g}" x2="{width - right:g}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 6:g}" y="{y(tick) + 4:.1f}" text-anchor="end" {FONT} fill="#6b7280">{escape(value_text(tick))}</text>')
    for index, label in enumerate(x_labels):
        if index % every == 0:
            parts.append(f'<text x="{x(index):.1f}" y="{height - bottom + 16:g}" text-anchor="middle" {FONT} '
                         f'fill="#6b7280">{escape(label)}</text>')
    legend_x = left
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        parts.append(f'<g class="series" data-name="{_attribute(line.name)}">')
        if count > 1:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(line.values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}" data-value="{_attribute(_number(v))}">'
                         f'<title>{escape(line.name)}, {escape(x_labels[i])}: {escape(value_text(v))}</title></circle>')
        parts.append("</g>")
        parts.append(f'<rect x="{legend_x:g}" y="8" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14:g}" y="17" {FONT}>{escape(line.name)}</text>')
        legend_x += 24 + text_width(line.name)
    parts.append("</svg>")
    return "".join(parts)
