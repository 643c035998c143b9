"""The dashboard's bar chart, laid out on the server and drawn as inline SVG by the template:
no chart library, nothing to download, readable without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.reports.dashboard import DailyPoints

WIDTH = 720
HEIGHT = 240
LEFT = 56  # room for the y-axis labels
RIGHT = 20  # room for the last date label
BOTTOM = 28  # room for the date labels
TOP = 12
GAP = 0.25  # of each day's slot, left between bars


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    points: int
    label: str  # "25 Nov"


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    left: int
    right: int  # where the plot ends
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]  # gridlines with their values, bottom up
    dates: list[tuple[float, str]]  # (x, label) under today's bar and every 7th before it
    total: int
    best: Bar | None  # the busiest day, for the summary read to screen readers


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 4 or 8 × 10ⁿ at or above `value` that four gridlines divide into
    whole numbers (4, 8, 20, 40, 80, 100, 200, …)."""
    magnitude = 1
    while True:
        for step in (1, 2, 4, 8):
            candidate = step * magnitude
            if candidate >= value and candidate % 4 == 0:
                return candidate
        magnitude *= 10


def bar_chart(days: list[DailyPoints]) -> BarChart:
    top_value = nice_ceiling(max((day.points for day in days), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    slot = plot_width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        height = plot_height * day.points / top_value
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * GAP / 2, 2),
                y=round(baseline - height, 2),
                width=round(slot * (1 - GAP), 2),
                height=round(height, 2),
                points=day.points,
                label=f"{day.day.day} {day.day:%b}",
            )
        )
    ticks = [
        Tick(y=round(baseline - plot_height * n / 4, 2), label=f"{top_value * n // 4:,}")
        for n in range(5)
    ]
    dates = [
        (round(bar.x + bar.width / 2, 2), bar.label)
        for index, bar in enumerate(bars)
        if (len(bars) - 1 - index) % 7 == 0
    ]
    busiest = max(bars, key=lambda bar: bar.points, default=None)
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=ticks,
        dates=dates,
        total=sum(day.points for day in days),
        best=busiest if busiest is not None and busiest.points > 0 else None,
    )
