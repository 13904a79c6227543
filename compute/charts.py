"""Server-side SVG charts: no JavaScript library, nothing from a CDN.

``usage_chart`` draws the credits an allocation has used over time: one cumulative line per
resource (and a total line when there are several), a horizontal line at the allocation
amount, a "today" marker, labelled axes and a legend. The markup carries ``<title>`` and
``<desc>`` (the figures in words), so a screen reader gets what the picture shows.

Amounts come in as integer millicredits and are only turned into credits for drawing. The
SVG uses presentation attributes and classes, never ``style=""`` (the CSP forbids inline
styles); every label is escaped.
"""

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import MILLI, credits

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), and a dash
# pattern per series so that lines differ without colour too.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2"]
TOTAL_COLOUR = "#14213d"
LIMIT_COLOUR = "#b3261e"
AXIS_COLOUR = "#5c6378"
GRID_COLOUR = "#d9dde7"
FONT_SIZE = 12
CHAR_WIDTH = 6.6  # average glyph width at FONT_SIZE in a system sans-serif, for layout


@dataclass
class Series:
    """One line: cumulative millicredits at the end of each day that had usage."""

    label: str
    points: list[tuple[date, int]] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.points[-1][1] if self.points else 0


def cumulative(label: str, daily: list[tuple[date, int]]) -> Series:
    """A series from per-day amounts (any order; several amounts on one day are added)."""
    by_day: dict[date, int] = {}
    for day, amount in daily:
        by_day[day] = by_day.get(day, 0) + int(amount)
    total, points = 0, []
    for day in sorted(by_day):
        total += by_day[day]
        points.append((day, total))
    return Series(label=label, points=points)


def total_of(series: list[Series], label: str = "All resources") -> Series:
    daily = []
    for s in series:
        previous = 0
        for day, value in s.points:
            daily.append((day, value - previous))
            previous = value
    return cumulative(label, daily)


# --- Scales ---------------------------------------------------------------------------------


def nice_step(span: float, ticks: int) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten giving about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def compact(value: float) -> str:
    """Axis label for a number of credits: 750, 2.5k, 40k, 1.2M."""
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


def date_ticks(start: date, end: date, most: int) -> list[date]:
    """Up to ``most`` tick dates between ``start`` and ``end``: month starts for long spans,
    evenly spaced days for short ones."""
    span = (end - start).days
    if span <= 0:
        return [start]
    if span > 75:
        months = []
        day = date(start.year, start.month, 1)
        while day <= end:
            if day >= start:
                months.append(day)
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        every = max(1, math.ceil(len(months) / most))
        return months[::every] or [start]
    step = max(1, math.ceil(span / max(most - 1, 1)))
    return [start + timedelta(days=d) for d in range(0, span + 1, step)]


def _date_label(day: date, span_days: int) -> str:
    if span_days > 75:
        return day.strftime("%b %Y") if day.month == 1 or span_days > 400 else day.strftime("%b")
    return f"{day.day} {day:%b}"


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


# --- The chart ------------------------------------------------------------------------------


def usage_chart(
    *,
    chart_id: str,
    series: list[Series],
    limit_millicredits: int | None,
    start: date,
    end: date,
    today: date | None = None,
    title: str = "Credits used over time",
    width: int = 720,
    height: int = 320,
    narrow: bool = False,
) -> SafeString:
    """The SVG markup of a cumulative usage chart.

    ``start``/``end`` bound the time axis (they widen to include every point); ``today`` adds
    a marker and extends each line flat up to it; ``narrow`` lays the legend out one item per
    line and uses fewer ticks, for phones.
    """
    series = [s for s in series if s.points]
    lines = list(series)
    if len(series) > 1:
        lines.append(total_of(series))
    days = [d for s in series for d, _ in s.points]
    if days:
        start, end = min(start, min(days)), max(end, max(days))
    if end <= start:
        end = start + timedelta(days=1)
    span_days = (end - start).days

    # Legend: one row of items, wrapped to the width (one item per row when narrow).
    legend = [(s.label, PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], 2.5) for i, s in enumerate(series)]
    if len(series) > 1:
        legend.append(("All resources", TOTAL_COLOUR, "", 3.5))
    if limit_millicredits:
        legend.append((f"Allocation ({credits(limit_millicredits)} credits)", LIMIT_COLOUR, "8 4", 2))
    left, right, bottom = (48 if narrow else 60), 16, 46
    legend_rows, row, x = [], [], 0.0
    for item in legend:
        item_width = 34 + len(item[0]) * CHAR_WIDTH
        if row and (narrow or x + item_width > width - left - right):
            legend_rows.append(row)
            row, x = [], 0.0
        row.append((x, *item))
        x += item_width + 14
    if row:
        legend_rows.append(row)
    top = 14 + 20 * len(legend_rows) + 10
    plot_w, plot_h = width - left - right, height - top - bottom
    if plot_h < 80:  # many legend rows: grow the picture rather than squash the plot
        height += 80 - plot_h
        plot_h = 80

    peak = max([s.last for s in lines] + [limit_millicredits or 0, MILLI]) / MILLI
    step = nice_step(peak * 1.08, 4 if narrow else 5)
    y_max = step * math.ceil(peak * 1.08 / step)

    def px(day: date) -> float:
        return left + plot_w * (day - start).days / span_days

    def py(millicredits: int) -> float:
        return top + plot_h - plot_h * (millicredits / MILLI) / y_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="{FONT_SIZE}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(describe(series, limit_millicredits, start, end))}</desc>',
    ]
    # Legend
    for r, items in enumerate(legend_rows):
        y = 14 + 20 * r
        for x0, label, colour, dash, stroke in items:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{_fmt(left + x0)}" y1="{y}" x2="{_fmt(left + x0 + 26)}" y2="{y}" stroke="{colour}" '
                f'stroke-width="{stroke}"{dash_attr}/>'
                f'<text x="{_fmt(left + x0 + 32)}" y="{y + 4}" fill="#14213d">{escape(label)}</text>'
            )
    # Y grid and labels
    value = 0.0
    while value <= y_max + 1e-9:
        y = py(round(value * MILLI))
        out.append(
            f'<line x1="{left}" y1="{_fmt(y)}" x2="{left + plot_w}" y2="{_fmt(y)}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{left - 6}" y="{_fmt(y + 4)}" text-anchor="end" fill="{AXIS_COLOUR}">{compact(value)}</text>'
        )
        value += step
    out.append(
        f'<text x="14" y="{_fmt(top + plot_h / 2)}" text-anchor="middle" fill="{AXIS_COLOUR}" '
        f'transform="rotate(-90 14 {_fmt(top + plot_h / 2)})">Credits used</text>'
    )
    # X axis, ticks and labels
    base = top + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{AXIS_COLOUR}"/>')
    for day in date_ticks(start, end, 3 if narrow else 7):
        x = px(day)
        out.append(
            f'<line x1="{_fmt(x)}" y1="{base}" x2="{_fmt(x)}" y2="{base + 5}" stroke="{AXIS_COLOUR}"/>'
            f'<text x="{_fmt(x)}" y="{base + 18}" text-anchor="middle" fill="{AXIS_COLOUR}">'
            f"{escape(_date_label(day, span_days))}</text>"
        )
    out.append(
        f'<text x="{_fmt(left + plot_w / 2)}" y="{height - 6}" text-anchor="middle" fill="{AXIS_COLOUR}">Date</text>'
    )
    # Today
    if today is not None and start <= today <= end:
        x = px(today)
        out.append(
            f'<line x1="{_fmt(x)}" y1="{top}" x2="{_fmt(x)}" y2="{base}" stroke="{AXIS_COLOUR}" '
            f'stroke-dasharray="2 3"/><text x="{_fmt(x - 4)}" y="{top + 12}" text-anchor="end" '
            f'fill="{AXIS_COLOUR}">Today</text>'
        )
    # Allocation line
    if limit_millicredits:
        y = py(limit_millicredits)
        out.append(
            f'<line class="chart-limit" x1="{left}" y1="{_fmt(y)}" x2="{left + plot_w}" y2="{_fmt(y)}" '
            f'stroke="{LIMIT_COLOUR}" stroke-width="2" stroke-dasharray="8 4"/>'
        )
    # Lines: from zero at the start, a step per day of usage, flat until today.
    until = min(today, end) if today is not None else None
    for i, s in enumerate(lines):
        is_total = len(series) > 1 and i == len(lines) - 1
        colour = TOTAL_COLOUR if is_total else PALETTE[i % len(PALETTE)]
        dash = "" if is_total else DASHES[i % len(DASHES)]
        coords = [(px(start), py(0))]
        previous = 0
        for day, total in s.points:
            # Usage of a day rises over that day (but never past today or the end of the axis).
            day_end = min(day + timedelta(days=1), end if until is None else max(until, day))
            coords.append((px(day), py(previous)))
            coords.append((px(day_end), py(total)))
            previous = total
        if until is not None and until > s.points[-1][0]:
            coords.append((px(until), py(previous)))
        points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in coords)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline class="chart-line" fill="none" stroke="{colour}" stroke-width="{3.5 if is_total else 2.5}" '
            f'stroke-linejoin="round"{dash_attr} points="{points}"><title>{escape(s.label)}: '
            f"{escape(credits(s.last))} credits</title></polyline>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every label above goes through escape()


def describe(series: list[Series], limit_millicredits: int | None, start: date, end: date) -> str:
    """The chart in words, for its ``<desc>``."""
    used = sum(s.last for s in series)
    parts = [f"Cumulative credits used between {start:%d %B %Y} and {end:%d %B %Y}."]
    if limit_millicredits:
        share = round(100 * used / limit_millicredits) if limit_millicredits else 0
        parts.append(f"In all {credits(used)} of {credits(limit_millicredits)} allocated credits used ({share}%).")
    else:
        parts.append(f"In all {credits(used)} credits used.")
    if series:
        parts.append("By resource: " + "; ".join(f"{s.label}: {credits(s.last)} credits" for s in series) + ".")
    return " ".join(parts)
