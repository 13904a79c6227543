"""Server-side SVG bar charts for case studies and network statistics (no JavaScript, no CDN).

In the style of ``compute.charts``: Okabe-Ito colours plus a pattern-free design that does not
rely on colour alone (every bar carries its value as text), ``<title>``/``<desc>`` with the
figures in words, presentation attributes instead of ``style=""`` (the CSP forbids inline
styles) and every label escaped.

- ``bar_chart``: horizontal bars, one group per row, one bar per series. ``per_row_scale``
  scales each row to its own largest value (outcome metrics have different units).
- ``stacked_bar_chart``: one horizontal bar per row, split into segments (pilots by sector and
  status).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from compute.charts import AXIS_COLOUR, CHAR_WIDTH, FONT_SIZE, GRID_COLOUR, PALETTE, compact, nice_step

TEXT_COLOUR = "#14213d"
MISSING_COLOUR = "#9aa0ad"


@dataclass
class Row:
    label: str
    values: Sequence[float | Decimal | None]  # one per series; None: not measured yet
    note: str = ""  # shown after the label, e.g. the unit


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def number(value) -> str:
    """A value as people write it: 1,234.5; 12; 0.25."""
    if value is None:
        return "-"
    value = Decimal(str(value))
    if value == value.to_integral_value():
        return f"{int(value):,}"
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text


def _legend(series: Sequence[str], colours: Sequence[str], left: int, width: int) -> tuple[list[str], int]:
    out, x, y = [], 0.0, 14
    for label, colour in zip(series, colours, strict=False):
        item = 22 + len(label) * CHAR_WIDTH
        if x and left + x + item > width - 8:
            x, y = 0.0, y + 20
        out.append(
            f'<rect x="{_fmt(left + x)}" y="{y - 9}" width="14" height="12" fill="{colour}"/>'
            f'<text x="{_fmt(left + x + 20)}" y="{y + 2}" fill="{TEXT_COLOUR}">{escape(label)}</text>'
        )
        x += item + 16
    return out, y + 16


def _svg_open(chart_id, width, height, title, desc) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="{FONT_SIZE}" '
        f'data-chart="{escape(chart_id)}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(
    *,
    chart_id: str,
    title: str,
    series: Sequence[str],
    rows: Sequence[Row],
    per_row_scale: bool = False,
    value_format: Callable = number,
    axis_label: str = "",
    width: int = 720,
    colours: Sequence[str] | None = None,
) -> SafeString:
    colours = list(colours or PALETTE)
    label_width = min(260, max([len(r.label) for r in rows] + [8]) * CHAR_WIDTH + 16)
    left = 8
    legend, top = _legend(series, colours, left + int(label_width), width)
    bar_h, gap = 14, 4
    group_h = len(series) * (bar_h + gap) + 14
    plot_left = left + label_width
    plot_w = width - plot_left - 90  # room for the value text after the longest bar
    height = int(top + group_h * max(len(rows), 1) + (30 if not per_row_scale else 8))
    desc = "; ".join(
        f"{r.label}{f' ({r.note})' if r.note else ''}: "
        + ", ".join(f"{s} {value_format(v)}" for s, v in zip(series, r.values, strict=False))
        for r in rows
    )
    out = _svg_open(chart_id, width, height, title, desc or "No data yet.")
    out += legend
    overall = max([float(v) for r in rows for v in r.values if v is not None] + [0.0])
    step = nice_step(overall * 1.05, 5) if overall > 0 else 1.0
    axis_max = step * max(1, -(-overall * 1.05 // step)) if overall > 0 else 1.0
    if not per_row_scale:
        value = 0.0
        while value <= axis_max + 1e-9:
            x = plot_left + plot_w * value / axis_max
            out.append(
                f'<line x1="{_fmt(x)}" y1="{top - 4}" x2="{_fmt(x)}" y2="{top + group_h * len(rows)}" '
                f'stroke="{GRID_COLOUR}"/><text x="{_fmt(x)}" y="{top + group_h * len(rows) + 14}" '
                f'text-anchor="middle" fill="{AXIS_COLOUR}">{compact(value)}</text>'
            )
            value += step
        if axis_label:
            out.append(
                f'<text x="{_fmt(plot_left + plot_w / 2)}" y="{height - 2}" text-anchor="middle" '
                f'fill="{AXIS_COLOUR}">{escape(axis_label)}</text>'
            )
    for i, row in enumerate(rows):
        y0 = top + i * group_h
        label = (
            row.label
            if len(row.label) * CHAR_WIDTH < label_width - 10
            else row.label[: int(label_width / CHAR_WIDTH) - 3] + "…"
        )
        out.append(
            f'<text x="{_fmt(plot_left - 8)}" y="{_fmt(y0 + group_h / 2 - 2)}" text-anchor="end" '
            f'fill="{TEXT_COLOUR}">{escape(label)}</text>'
        )
        if row.note:
            out.append(
                f'<text x="{_fmt(plot_left - 8)}" y="{_fmt(y0 + group_h / 2 + 12)}" text-anchor="end" '
                f'fill="{AXIS_COLOUR}">{escape(row.note)}</text>'
            )
        row_max = max([abs(float(v)) for v in row.values if v is not None] + [0.0])
        scale_max = (row_max * 1.05 or 1.0) if per_row_scale else axis_max
        for j, value in enumerate(row.values):
            y = y0 + j * (bar_h + gap)
            name = series[j] if j < len(series) else ""
            colour = colours[j % len(colours)]
            if value is None:
                out.append(
                    f'<text x="{_fmt(plot_left + 4)}" y="{y + bar_h - 3}" fill="{MISSING_COLOUR}">'
                    f"{escape(name)}: not measured yet</text>"
                )
                continue
            w = max(1.0, plot_w * abs(float(value)) / scale_max) if float(value) else 0.0
            out.append(
                f'<rect class="chart-bar" x="{_fmt(plot_left)}" y="{y}" width="{_fmt(w)}" height="{bar_h}" '
                f'fill="{colour}"><title>{escape(row.label)}, {escape(name)}: {escape(value_format(value))}'
                f"{escape(' ' + row.note) if row.note else ''}</title></rect>"
                f'<text x="{_fmt(plot_left + w + 4)}" y="{y + bar_h - 3}" fill="{TEXT_COLOUR}">'
                f"{escape(value_format(value))}</text>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every label above goes through escape()


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    segments: Sequence[str],
    rows: Sequence[Row],
    colours: Sequence[str] | None = None,
    axis_label: str = "",
    width: int = 720,
) -> SafeString:
    colours = list(colours or PALETTE)
    label_width = min(220, max([len(r.label) for r in rows] + [8]) * CHAR_WIDTH + 16)
    left = 8
    legend, top = _legend(segments, colours, left + int(label_width), width)
    bar_h, gap = 20, 8
    plot_left = left + label_width
    plot_w = width - plot_left - 50
    height = int(top + (bar_h + gap) * max(len(rows), 1) + 34)
    totals = [sum(float(v or 0) for v in r.values) for r in rows]
    peak = max([*totals, 1.0])
    step = nice_step(peak, 5)
    axis_max = step * max(1, -(-peak // step))
    desc = "; ".join(
        f"{r.label}: {number(t)} in all ("
        + ", ".join(f"{s} {number(v or 0)}" for s, v in zip(segments, r.values, strict=False) if v)
        + ")"
        for r, t in zip(rows, totals, strict=False)
    )
    out = _svg_open(chart_id, width, height, title, desc or "No data yet.")
    out += legend
    base = top + (bar_h + gap) * len(rows)
    value = 0.0
    while value <= axis_max + 1e-9:
        x = plot_left + plot_w * value / axis_max
        out.append(
            f'<line x1="{_fmt(x)}" y1="{top - 4}" x2="{_fmt(x)}" y2="{base}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{_fmt(x)}" y="{base + 14}" text-anchor="middle" fill="{AXIS_COLOUR}">{compact(value)}</text>'
        )
        value += step
    if axis_label:
        out.append(
            f'<text x="{_fmt(plot_left + plot_w / 2)}" y="{height - 4}" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{escape(axis_label)}</text>'
        )
    for i, (row, total) in enumerate(zip(rows, totals, strict=False)):
        y = top + i * (bar_h + gap)
        out.append(
            f'<text x="{_fmt(plot_left - 8)}" y="{y + bar_h - 6}" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{escape(row.label)}</text>"
        )
        x = plot_left
        for j, v in enumerate(row.values):
            if not v:
                continue
            w = plot_w * float(v) / axis_max
            out.append(
                f'<rect class="chart-bar" x="{_fmt(x)}" y="{y}" width="{_fmt(w)}" height="{bar_h}" '
                f'fill="{colours[j % len(colours)]}" stroke="#ffffff" stroke-width="1">'
                f"<title>{escape(row.label)}, {escape(segments[j])}: {number(v)}</title></rect>"
            )
            x += w
        out.append(f'<text x="{_fmt(x + 4)}" y="{y + bar_h - 6}" fill="{TEXT_COLOUR}">{number(total)}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every label above goes through escape()


# --- The charts the pages show ----------------------------------------------------------------------

METRIC_SERIES = ("Baseline", "Target", "Achieved")
METRIC_COLOURS = ("#5c6378", "#0072B2", "#009E73")


def outcome_chart(metrics, *, chart_id="outcomes") -> SafeString:
    """Baseline → target → achieved per metric, each metric on its own scale (units differ)."""
    rows = [Row(label=m.name, note=m.unit, values=(m.baseline, m.target, m.achieved)) for m in metrics]
    return bar_chart(
        chart_id=chart_id,
        title="Outcome metrics: baseline, target and achieved",
        series=METRIC_SERIES,
        rows=rows,
        per_row_scale=True,
        colours=METRIC_COLOURS,
    )
