"""Shared helpers for the benchmark scripts: Django setup, a progress bar, timing and tables."""

import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gigafactory_bench"


def setup_django() -> None:
    """Point Django at the benchmark database (unless DATABASE_URL says otherwise) and set it up."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gigafactory.settings")
    os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    # As docker-compose deploys it: e-mail on a queue of its own, for the mailer worker.
    os.environ.setdefault("GF_MAIL_QUEUE", "mail")
    import django

    django.setup()


class Progress:
    """A one-line progress bar on stderr: ``[#####.....] 5/10 step name (12.3 s)``."""

    def __init__(self, total: int, width: int = 30):
        self.total = total
        self.done = 0
        self.width = width
        self.started = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        filled = round(self.width * self.done / self.total)
        elapsed = time.perf_counter() - self.started
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<44} {elapsed:6.1f} s")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@contextmanager
def timed():
    """``with timed() as t: ...`` then ``t()`` is the elapsed seconds."""
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end or time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (also readable in a terminal)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, rule, *body])
