"""Server-side SVG charts of the assurance pages (no JavaScript, nothing from a CDN).

Every chart carries a ``<title>`` and a ``<desc>`` with its figures in words; labels are escaped;
no ``style=""`` (the CSP forbids it): presentation attributes and classes only. Colours are the
Okabe-Ito palette used by ``compute.charts``.
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from compute.charts import AXIS_COLOUR, CHAR_WIDTH, DASHES, FONT_SIZE, GRID_COLOUR, LIMIT_COLOUR, PALETTE

INK = "#14213d"
OK_COLOUR = "#009E73"
FAIL_COLOUR = "#D55E00"
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _num(value, digits=3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _open(chart_id, width, height, title, desc):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="{FONT_SIZE}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _clip(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def group_bars(
    *, chart_id: str, title: str, groups: list[tuple[str, float | None, int]], width: int = 640
) -> SafeString:
    """Horizontal bars, one per group, of a rate between 0 and 1 (``(label, value, count)``);
    the highest and lowest bars are marked, undefined values are said so."""
    label_chars = min(max((len(g[0]) for g in groups), default=4), 28)
    left = 16 + label_chars * CHAR_WIDTH
    right, top, bar, gap = 70, 8, 18, 8
    plot_w = width - left - right
    height = top + len(groups) * (bar + gap) + 34
    defined = [v for _, v, _ in groups if v is not None]
    high, low = (max(defined), min(defined)) if defined else (None, None)
    desc = "; ".join(f"{label}: {_num(value)} ({count} rows)" for label, value, count in groups)
    out = _open(chart_id, width, height, title, desc + ".")
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = left + plot_w * tick
        out.append(
            f'<line x1="{_f(x)}" y1="{top}" x2="{_f(x)}" y2="{height - 28}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{_f(x)}" y="{height - 14}" text-anchor="middle" fill="{AXIS_COLOUR}">{tick:g}</text>'
        )
    for i, (label, value, count) in enumerate(groups):
        y = top + i * (bar + gap)
        out.append(
            f'<text x="{_f(left - 6)}" y="{_f(y + bar - 5)}" text-anchor="end" fill="{INK}">'
            f"{escape(_clip(label, label_chars))}</text>"
        )
        if value is None:
            out.append(f'<text x="{left + 4}" y="{_f(y + bar - 5)}" fill="{AXIS_COLOUR}">undefined</text>')
            continue
        colour = PALETTE[0]
        mark = ""
        if high is not None and high != low and value in (high, low):
            colour = FAIL_COLOUR if value == low else PALETTE[0]
            mark = " (highest)" if value == high else " (lowest)"
        w = max(plot_w * min(max(value, 0.0), 1.0), 1)
        out.append(
            f'<rect x="{left}" y="{y}" width="{_f(w)}" height="{bar}" fill="{colour}">'
            f"<title>{escape(label)}: {_num(value)}{mark}, {count} rows</title></rect>"
            f'<text x="{_f(left + w + 4)}" y="{_f(y + bar - 5)}" fill="{INK}">{_num(value)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every label above goes through escape()


def histogram(*, chart_id: str, title: str, edges: list[float], counts: list[int], width: int = 480) -> SafeString:
    """Vertical bars of a numeric column's distribution."""
    height, left, right, top, bottom = 200, 44, 12, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts) if counts and max(counts) else 1
    bar_w = plot_w / max(len(counts), 1)
    desc = f"{sum(counts)} values from {_num(edges[0], 4)} to {_num(edges[-1], 4)} in {len(counts)} equal bins."
    out = _open(chart_id, width, height, title, desc)
    base = top + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{AXIS_COLOUR}"/>')
    out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" fill="{AXIS_COLOUR}">{peak}</text>')
    out.append(f'<text x="{left - 6}" y="{base}" text-anchor="end" fill="{AXIS_COLOUR}">0</text>')
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + i * bar_w
        out.append(
            f'<rect x="{_f(x + 1)}" y="{_f(base - h)}" width="{_f(max(bar_w - 2, 1))}" height="{_f(h)}" '
            f'fill="{PALETTE[0]}"><title>{_num(edges[i], 4)} to {_num(edges[i + 1], 4)}: {count}</title></rect>'
        )
    out.append(
        f'<text x="{left}" y="{base + 16}" fill="{AXIS_COLOUR}">{_num(edges[0], 3)}</text>'
        f'<text x="{left + plot_w}" y="{base + 16}" text-anchor="end" fill="{AXIS_COLOUR}">{_num(edges[-1], 3)}</text>'
    )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - labels escaped above, the rest are numbers


def frequencies(*, chart_id: str, title: str, items: list[dict], width: int = 480, limit: int = 15) -> SafeString:
    """Horizontal bars of category shares (``[{value, count, share}]``), the most frequent first."""
    shown = items[:limit]
    groups = [(str(i["value"]), i["share"], i["count"]) for i in shown]
    return group_bars(chart_id=chart_id, title=title, groups=groups, width=width)


def comparison(
    *, chart_id: str, title: str, labels: list[str], reference: list[float], current: list[float], width: int = 640
) -> SafeString:
    """Pairs of vertical bars: the anchor's share and the batch's share per bin or category."""
    height, left, right, top, bottom = 230, 44, 12, 30, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([*reference, *current, 0.01])
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot / 2 - 2, 1)
    desc = "; ".join(
        f"{label}: reference {100 * r:.1f} %, batch {100 * c:.1f} %"
        for label, r, c in zip(labels, reference, current, strict=True)
    )
    out = _open(chart_id, width, height, title, desc + ".")
    out.append(
        f'<rect x="{left}" y="6" width="12" height="12" fill="{REFERENCE_COLOUR}"/>'
        f'<text x="{left + 16}" y="16" fill="{INK}">Trust anchor</text>'
        f'<rect x="{left + 110}" y="6" width="12" height="12" fill="{CURRENT_COLOUR}"/>'
        f'<text x="{left + 126}" y="16" fill="{INK}">This batch</text>'
    )
    base = top + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{AXIS_COLOUR}"/>')
    out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" fill="{AXIS_COLOUR}">{100 * peak:.0f}%</text>')
    every = max(1, int(len(labels) * 7 * CHAR_WIDTH // plot_w) + 1)
    for i, label in enumerate(labels):
        x = left + i * slot
        for j, (share, colour, who) in enumerate(
            ((reference[i], REFERENCE_COLOUR, "trust anchor"), (current[i], CURRENT_COLOUR, "this batch"))
        ):
            h = plot_h * share / peak
            out.append(
                f'<rect x="{_f(x + 1 + j * (bar_w + 1))}" y="{_f(base - h)}" width="{_f(bar_w)}" height="{_f(h)}" '
                f'fill="{colour}"><title>{escape(label)}, {who}: {100 * share:.1f} %</title></rect>'
            )
        if i % every == 0:
            out.append(
                f'<text x="{_f(x + slot / 2)}" y="{base + 14}" text-anchor="middle" fill="{AXIS_COLOUR}">'
                f"{escape(_clip(label, 10))}</text>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - labels escaped above, the rest are numbers


def trend(
    *, chart_id: str, title: str, labels: list[str], series: dict[str, list], threshold: float, width: int = 720
) -> SafeString:
    """PSI per column over the batches (oldest left), a dashed line at the threshold; drifted
    batches are marked with a ring."""
    height, left, right, bottom = 300, 48, 16, 46
    names = list(series)
    legend_rows = max(1, -(-len(names) // 4))
    top = 12 + 18 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v[0] for points in series.values() for v in points if v is not None and v[0] is not None]
    peak = max([*values, threshold * 1.5, 0.05])
    step_x = plot_w / max(len(labels) - 1, 1)

    def py(v):
        return top + plot_h - plot_h * min(v, peak) / peak

    desc_parts = []
    for name, points in series.items():
        latest = next((p for p in reversed(points) if p is not None and p[0] is not None), None)
        desc_parts.append(f"{name}: latest PSI {_num(latest[0] if latest else None)}")
    out = _open(
        chart_id,
        width,
        height,
        title,
        f"PSI per column over {len(labels)} batches; threshold {threshold:g}. " + "; ".join(desc_parts) + ".",
    )
    for i, name in enumerate(names):
        x = left + (i % 4) * (plot_w / 4)
        y = 12 + 18 * (i // 4)
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{_f(x)}" y1="{y}" x2="{_f(x + 22)}" y2="{y}" stroke="{PALETTE[i % len(PALETTE)]}" '
            f'stroke-width="2.5"{dash_attr}/><text x="{_f(x + 27)}" y="{y + 4}" fill="{INK}">'
            f"{escape(_clip(name, 22))}</text>"
        )
    for frac in (0, 0.5, 1):
        y = py(peak * frac)
        out.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" fill="{AXIS_COLOUR}">{peak * frac:.2f}</text>'
        )
    y = py(threshold)
    out.append(
        f'<line class="chart-limit" x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="{LIMIT_COLOUR}" '
        f'stroke-width="2" stroke-dasharray="8 4"/><text x="{left + plot_w}" y="{_f(y - 4)}" text-anchor="end" '
        f'fill="{LIMIT_COLOUR}">PSI threshold {threshold:g}</text>'
    )
    base = top + plot_h
    every = max(1, len(labels) // 8 + (1 if len(labels) % 8 else 0))
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{_f(left + i * step_x)}" y="{base + 16}" text-anchor="middle" fill="{AXIS_COLOUR}">'
                f"{escape(_clip(label, 12))}</text>"
            )
    out.append(
        f'<text x="{_f(left + plot_w / 2)}" y="{height - 6}" text-anchor="middle" fill="{AXIS_COLOUR}">Batches, '
        "oldest first</text>"
    )
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        coords = [(left + j * step_x, p) for j, p in enumerate(points) if p is not None and p[0] is not None]
        if len(coords) > 1:
            pts = " ".join(f"{_f(x)},{_f(py(p[0]))}" for x, p in coords)
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr} points="{pts}">'
                f"<title>{escape(name)}</title></polyline>"
            )
        for x, (value, drifted) in coords:
            ring = f' stroke="{FAIL_COLOUR}" stroke-width="2"' if drifted else ""
            out.append(
                f'<circle cx="{_f(x)}" cy="{_f(py(value))}" r="{5 if drifted else 3}" fill="{colour}"{ring}>'
                f"<title>{escape(name)}: PSI {_num(value)}{' (drift)' if drifted else ''}</title></circle>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - labels escaped above, the rest are numbers
