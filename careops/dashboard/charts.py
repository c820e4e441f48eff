"""Small bar charts drawn on the server: the geometry is computed here, and
templates/dashboard/_bar_chart.html draws it as an inline, accessible SVG (no JavaScript).

    chart = bar_chart([("2026-11-30", 4), ("2026-12-01", 7)], title="Bookings per day")
    {% include "dashboard/_bar_chart.html" with chart=chart %}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    series: str = ""  # a CSS modifier (chart-bar-<series>) when a chart has several series

    @property
    def tooltip(self) -> str:
        name = f" {self.series}" if self.series else ""
        return f"{self.label}: {self.value}{name}"


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    title: str
    summary: str  # what a screen reader says instead of reading each bar
    series: tuple[str, ...] = ()


def _scale(value: int, peak: int, drawable: float) -> float:
    return round(drawable * value / peak, 2) if peak > 0 else 0.0


def bar_chart(
    points: Sequence[tuple[str, int]],
    *,
    height: int = 80,
    bar_width: int = 8,
    gap: int = 2,
    title: str = "",
) -> BarChart:
    """One bar per (label, value), in order, scaled so the highest reaches the top."""
    return grouped_bar_chart(
        [(label, (value,)) for label, value in points],
        series=("",),
        height=height,
        bar_width=bar_width,
        gap=gap,
        title=title,
    )


def grouped_bar_chart(
    groups: Sequence[tuple[str, Sequence[int]]],
    *,
    series: Sequence[str],
    height: int = 80,
    bar_width: int = 6,
    gap: int = 3,
    title: str = "",
) -> BarChart:
    """Side-by-side bars per label, one per series (e.g. messages in and out per day), on one
    scale. `series` names each value of a group; the names become CSS modifiers and tooltips."""
    peak = max((value for _, values in groups for value in values), default=0)
    # A pixel of headroom so the highest bar's top edge is not clipped by the viewBox.
    drawable = height - 1
    group_width = bar_width * len(series)
    bars = []
    for index, (label, values) in enumerate(groups):
        left = index * (group_width + gap)
        for offset, (name, value) in enumerate(zip(series, values, strict=True)):
            bar_height = _scale(value, peak, drawable)
            bars.append(
                Bar(
                    x=left + offset * bar_width,
                    y=round(height - bar_height, 2),
                    width=bar_width,
                    height=bar_height,
                    label=label,
                    value=value,
                    series=name,
                )
            )
    width = max(len(groups) * (group_width + gap) - gap, 1)
    return BarChart(
        width=width,
        height=height,
        bars=tuple(bars),
        title=title,
        summary=_summary(groups, series),
        series=tuple(name for name in series if name),
    )


def _summary(groups: Sequence[tuple[str, Sequence[int]]], series: Sequence[str]) -> str:
    if not groups:
        return "No data."
    span = f"{groups[0][0]} to {groups[-1][0]}" if len(groups) > 1 else groups[0][0]
    parts = []
    for position, name in enumerate(series):
        values = [values[position] for _, values in groups]
        peak = max(values)
        peak_label = next(label for label, group in groups if group[position] == peak)
        prefix = f"{name}: " if name else ""
        parts.append(f"{prefix}total {sum(values)}, highest {peak} on {peak_label}")
    return f"{span}. " + "; ".join(parts) + "."
