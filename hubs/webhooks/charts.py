"""A small server-side SVG chart of an endpoint's deliveries per day (no JavaScript, no CDN).

Stacked bars: delivered, failed, pending. ``<title>`` and ``<desc>`` carry the figures in
words for screen readers; colours come with a legend and differ in lightness too.
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = {"delivered": "#009E73", "failed": "#D55E00", "pending": "#E69F00"}
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 26, 30


def deliveries_chart(rows: list[tuple]) -> SafeString:
    """``rows``: (day, delivered, failed, pending), oldest first."""
    peak = max((d + f + p for _day, d, f, p in rows), default=0)
    top = max(peak, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(rows), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="wh-chart-title wh-chart-desc"'
        ' xmlns="http://www.w3.org/2000/svg">',
        '<title id="wh-chart-title">Deliveries per day, last two weeks</title>',
        f'<desc id="wh-chart-desc">{escape(describe(rows))}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#5c6378"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11" fill="#5c6378">{top}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11" fill="#5c6378">0</text>',
    ]
    for index, (day, delivered, failed, pending) in enumerate(rows):
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_h
        for name, value in (("delivered", delivered), ("failed", failed), ("pending", pending)):
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{COLOURS[name]}">'
                f"<title>{day:%d %b}: {value} {name}</title></rect>"
            )
        if index % 2 == 0 or len(rows) <= 7:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" '
                f'fill="#5c6378">{day:%d %b}</text>'
            )
    x = LEFT
    for name, colour in COLOURS.items():
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="11" fill="#14213d">{name}</text>')
        x += 90
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped or a number


def describe(rows) -> str:
    delivered = sum(r[1] for r in rows)
    failed = sum(r[2] for r in rows)
    pending = sum(r[3] for r in rows)
    if not (delivered or failed or pending):
        return "No deliveries in the last two weeks."
    return f"In the last two weeks: {delivered} delivered, {failed} failed, {pending} still being retried."
