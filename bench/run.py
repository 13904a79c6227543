"""Measure the portal on the scale database (``bench/seed_scale.py``) and print one table.

    python bench/run.py                 # everything
    python bench/run.py --only pages    # pages, ingest, decisions, http, memory (comma-separated)
    python bench/run.py --write-docs    # also write docs/benchmarks.md

For every key page and API list: the number of SQL queries, the median and p95 latency
in-process (Django's test client, no network), the same for a bare baseline view that runs the
SQL the page ran (every statement, verbatim, recorded in the same run: the page's main query and
the session, user and access lookups around it) and returns the rows as JSON, and the ratio of
the two: what the ORM, forms, templates and serializers cost on top of the database work.
Then the same pages over HTTP against gunicorn (2 workers) with concurrent clients. Then the
throughputs: usage ingest through the API, and screening + decision of fast-lane applications
with one and with two Celery worker processes on Redis. Then the resident memory of the gunicorn
workers after 1,000 and after 10,000 requests.
"""

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from bench.common import ROOT, median, percentile, setup_django, table
from bench.seed_scale import STAFF_EMAIL, partner_keys_file

BASELINE_FILE = Path(__file__).resolve().parent / ".baseline_sql.json"
PORT = 8765
VENV_BIN = Path(sys.executable).parent


class Page:
    """A page measured as ``who`` sees it; ``cold`` names a cache key dropped before each request
    (a page whose figures are cached is also measured as the request that recomputes them)."""

    def __init__(self, name, path, who, *, cold=""):
        self.name, self.path, self.who, self.cold = name, path, who, cold

    def prepare(self):
        if self.cold:
            from django.core.cache import cache

            cache.delete(self.cold)


def logins():
    """``{who: (session cookie or None, api key or None)}`` for the roles the pages need, and the
    objects the pages show: Lyon's first allocation (its PI is the applicant) and the oldest
    application waiting for Lyon's staff."""
    from django.test import Client

    from compute.models import Allocation, Application, AppStatus
    from hubs.models import User

    staff = User.objects.get(email=STAFF_EMAIL.format(slug="lyon"))
    allocation = Allocation.objects.filter(hub__slug="lyon").order_by("pk").select_related("project").first()
    allocation.waiting = (
        Application.objects.filter(hub__slug="lyon", status=AppStatus.IN_REVIEW).order_by("submitted_at", "pk").first()
    )
    applicant = allocation.project.pi
    keys = dict(line.split(" ", 1) for line in partner_keys_file().read_text().splitlines() if line)
    from hubs import services
    from hubs.models import ApiScope

    _, personal = services.api_key_create(
        name="bench staff key", hub=staff.memberships.get().hub, scope=ApiScope.READ, user=staff, acting_user=staff
    )
    out = {"anonymous": (None, None), "partner": (None, keys["lyon"]), "staff key": (None, personal)}
    for who, user in (("staff", staff), ("applicant", applicant)):
        client = Client()
        client.force_login(user)
        out[who] = (client.cookies["sessionid"].value, None)
    return out, allocation


def key_pages(allocation) -> list[Page]:
    from django.urls import NoReverseMatch, reverse

    pages = [
        Page("Staff queue (waiting)", reverse("compute:staff_queue") + "?status=waiting", "staff"),
        Page(
            "Staff application page (waiting)",
            reverse("compute:staff_application", args=[allocation.waiting.pk]),
            "staff",
        ),
        Page("Applicant dashboard", reverse("hubs:dashboard"), "applicant"),
        Page(
            "Project page with usage chart",
            reverse("compute:project_detail", args=[allocation.project_id]),
            "applicant",
        ),
        Page(
            "Application detail",
            reverse("compute:application_detail", args=[allocation.application_id]),
            "applicant",
        ),
        Page("My applications", reverse("compute:application_list"), "applicant"),
        Page("Calls (public)", reverse("compute:call_list"), "anonymous"),
        Page("API applications, 100 per page (staff key)", "/api/v1/applications/?page_size=100", "staff key"),
        Page("API allocations, 100 per page (staff key)", "/api/v1/allocations/?page_size=100", "staff key"),
        Page("API usage records, 100 per page (partner key)", "/api/v1/usage-records/?page_size=100", "partner"),
    ]
    from pilots.statistics import CACHE_KEY

    for name, url_name, cold in (
        ("Showcase", "pilots:showcase", ""),
        ("Network statistics (cached)", "pilots:statistics", ""),
        ("Network statistics (recomputed)", "pilots:statistics", CACHE_KEY),
    ):
        try:
            pages.append(Page(name, reverse(url_name), "anonymous", cold=cold))
        except NoReverseMatch:
            print(f"  ({name}: no such page yet, skipped)")
    return pages


def _client_get(client, page, auth):
    page.prepare()
    session, key = auth
    client.cookies.clear()
    extra = {}
    if session:
        client.cookies["sessionid"] = session
    if key:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.get(page.path, **extra)


def measure_in_process(pages, auth, repeat):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    rows, baselines = [], {}
    for page in pages:
        for _ in range(3):  # warm: caches, connection, the planner's statistics
            _client_get(client, page, auth[page.who])
        # Counted on a warm request (as users meet the page); read before the next request,
        # whose request_started signal clears Django's query log.
        with CaptureQueriesContext(connection) as captured:
            response = _client_get(client, page, auth[page.who])
        if response.status_code != 200:
            raise SystemExit(f"{page.name}: {page.path} answered {response.status_code}")
        statements = [q["sql"] for q in captured.captured_queries]
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
        baselines[page.name] = statements
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            _client_get(client, page, auth[page.who])
            times.append((time.perf_counter() - start) * 1000)
        rows.append(
            {
                "page": page,
                "queries": len(statements),
                "slowest_sql": slowest["sql"] if slowest else "",
                "median": median(times),
                "p95": percentile(times, 95),
            }
        )
    BASELINE_FILE.write_text(json.dumps({slug(n): sql for n, sql in baselines.items()}))
    from bench import urls as bench_urls

    bench_urls._statements.cache_clear()
    for row in rows:
        path = f"/bench/baseline/{slug(row['page'].name)}/"
        for _ in range(3):
            client.get(path)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
        row["base_median"] = median(times)
        row["base_p95"] = percentile(times, 95)
    return rows


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


# --- HTTP against gunicorn ------------------------------------------------------------------


def start_gunicorn(workers=2):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "gigafactory.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise SystemExit("gunicorn did not start")
    return process


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def http_get(path, auth, timeout=60):
    session, key = auth
    headers = {"Host": "127.0.0.1"}
    if session:
        headers["Cookie"] = f"sessionid={session}"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    return response.status, elapsed


def load(path, auth, *, requests, clients, prepare=None):
    """``requests`` GETs of ``path`` from ``clients`` threads; returns (latencies ms, errors, seconds)."""
    latencies, errors = [], []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            try:
                if prepare is not None:
                    prepare()
                status, ms = http_get(path, auth)
            except OSError as exc:
                with lock:
                    errors.append(str(exc))
                continue
            with lock:
                (latencies if status == 200 else errors).append(ms if status == 200 else status)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start


def measure_http(rows, auth, *, requests, clients):
    for row in rows:
        page = row["page"]
        load(page.path, auth[page.who], requests=4, clients=2)
        latencies, errors, seconds = load(
            page.path, auth[page.who], requests=requests, clients=clients, prepare=page.prepare
        )
        if errors:
            raise SystemExit(f"{page.name} over HTTP: {len(errors)} errors, e.g. {errors[:3]}")
        row["http_median"], row["http_p95"] = median(latencies), percentile(latencies, 95)
        row["http_rps"] = requests / seconds
        base = f"/bench/baseline/{slug(page.name)}/"
        load(base, (None, None), requests=4, clients=2)
        latencies, errors, _ = load(base, (None, None), requests=requests, clients=clients)
        row["http_base_median"] = median(latencies)


def worker_rss_kb(gunicorn) -> list[int]:
    children = subprocess.run(
        ["pgrep", "-P", str(gunicorn.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))))
    return sorted(sizes)


def measure_memory(gunicorn, pages, auth, *, total=10_000, clients=4):
    """RSS of each worker after 1,000 and after ``total`` requests cycling through the pages."""
    cheap = [p for p in pages if p.name.startswith(("API allocations", "Application detail", "Calls"))] or pages
    readings = {}
    done = 0
    for checkpoint in (1_000, total):
        while done < checkpoint:
            page = cheap[(done // 100) % len(cheap)]
            load(page.path, auth[page.who], requests=100, clients=clients)
            done += 100
        readings[checkpoint] = worker_rss_kb(gunicorn)
    return readings


# --- Throughputs ----------------------------------------------------------------------------


def _ingest_payloads(hub, *, batches, size, run_id):
    from compute.models import Allocation

    allocations = list(
        Allocation.objects.filter(hub__slug=hub, status="active")
        .order_by("pk")
        .values_list("pk", "application__resource_requests__resource_id")[:1000]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    payloads = []
    for b in range(batches):
        records = []
        for i in range(size):
            allocation, resource = allocations[(b * size + i) % len(allocations)]
            start = now - timedelta(hours=2, seconds=i)
            records.append(
                {
                    "resource": resource,
                    "allocation": allocation,
                    "external_id": f"ingest-{run_id}-{b}-{i}",
                    "user": "bench",
                    "gpu_seconds": 60 + i % 600,
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=30)).isoformat(),
                }
            )
        payloads.append(json.dumps({"records": records}).encode())
    return payloads


def _post_batches(key, payloads, size, failures):
    for body in payloads:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
        conn.request(
            "POST",
            "/api/v1/usage-records/",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Host": "127.0.0.1"},
        )
        response = conn.getresponse()
        answer = response.read()
        if response.status != 201 or json.loads(answer)["created"] != size:
            failures.append(f"ingest answered {response.status}: {answer[:300]!r}")
            return


def measure_ingest(*, hubs=("lyon",), batches=10, size=10_000):
    """Usage records per second through ``POST /api/v1/usage-records/`` (10,000 per request),
    from one partner system per hub in ``hubs``, sending at the same time (each its own
    provider, as HPC centres report)."""
    keys = dict(line.split(" ", 1) for line in partner_keys_file().read_text().splitlines() if line)
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    per_hub = {hub: _ingest_payloads(hub, batches=batches, size=size, run_id=run_id) for hub in hubs}
    failures = []
    senders = [
        threading.Thread(target=_post_batches, args=(keys[hub], payloads, size, failures))
        for hub, payloads in per_hub.items()
    ]
    started = time.perf_counter()
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    total = len(hubs) * batches * size
    return total / seconds, total, seconds


def measure_decisions(*, count, processes):
    """Fast-lane applications screened and decided per second by ``processes`` worker processes."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    from compute import screening, services
    from compute.models import Application, Call, ResourceRequest
    from gigafactory.celery import app as celery_app

    call = Call.objects.get(slug="lyon-fast-lane")
    resource = call.eligible_resources.order_by("pk").first()
    applicants = list(
        Application.objects.filter(call=call, status="approved").select_related("project", "applicant")[:count]
    )
    drafts = []
    for i, template in enumerate(applicants):
        drafts.append(
            Application(
                project=template.project,
                call=call,
                hub=call.hub,
                applicant=template.applicant,
                title=f"Decision benchmark {processes}-{i}",
                abstract="Fine-tuning a model.",
                civilian_use=True,
                status="draft",
            )
        )
    Application.objects.bulk_create(drafts)
    ResourceRequest.objects.bulk_create(
        [ResourceRequest(application=a, resource=resource, gpu_hours=10) for a in drafts]
    )
    celery_app.control.purge()
    cache.delete(screening.kick_key())  # a kick left by an earlier run: its message was just purged
    for application in drafts:
        services.application_submit(application=application, acting_user=application.applicant)
    ids = [a.pk for a in drafts]
    connection.close()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", PYTHONPATH=str(ROOT))

    def worker(*options):
        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "gigafactory",
            "worker",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
        ]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", *options]
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)

    # The screening worker under test, and the mailer beside it (as in docker-compose): the
    # e-mails of the submissions and decisions go out meanwhile, from the same two CPU cores.
    workers = [worker("--concurrency", str(processes)), worker("--queues", settings.MAIL_QUEUE, "--concurrency", "1")]
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            left = Application.objects.filter(pk__in=ids, decided_at__isnull=True).count()
            if left == 0:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"decisions: {left} of {count} still undecided after 15 minutes")
    finally:
        for process in workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process in workers:
            process.wait(timeout=60)
    decided = Application.objects.filter(pk__in=ids)
    times = sorted(decided.values_list("decided_at", flat=True))
    approved = decided.filter(status="approved").count()
    # From the first decision to the last: worker start-up is not counted.
    seconds = (times[-1] - times[0]).total_seconds()
    return (count - 1) / seconds, approved, seconds


# --- Report ---------------------------------------------------------------------------------


def fmt(ms):
    return f"{ms:.1f}"


def report(rows, extra, machine) -> str:
    lines = [f"Measured {machine['when']} on {machine['desc']}.", ""]
    if rows:
        headers = ["Page or endpoint", "Queries", "Median ms", "p95 ms", "Baseline median ms", "Ratio"]
        has_http = "http_median" in rows[0]
        if has_http:
            headers += ["HTTP median ms", "HTTP p95 ms", "HTTP req/s", "HTTP baseline median ms", "HTTP ratio"]
        body = []
        for r in rows:
            line = [
                r["page"].name,
                r["queries"],
                fmt(r["median"]),
                fmt(r["p95"]),
                fmt(r["base_median"]),
                f"{r['median'] / r['base_median']:.1f}x",
            ]
            if has_http:
                line += [
                    fmt(r["http_median"]),
                    fmt(r["http_p95"]),
                    f"{r['http_rps']:.0f}",
                    fmt(r["http_base_median"]),
                    f"{r['http_median'] / r['http_base_median']:.1f}x",
                ]
            body.append(line)
        lines += [table(headers, body), ""]
    if extra:
        lines += [table(["Measure", "Result"], [[k, v] for k, v in extra.items()]), ""]
    return "\n".join(lines)


def machine_description() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line))
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "desc": (
            f"{cpu}, {os.cpu_count()} CPU cores, {mem_kb / 1024 / 1024:.0f} GiB RAM, "
            f"Python {platform.python_version()}, PostgreSQL {pg.split()[0]}, Redis on 127.0.0.1"
        ),
    }


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def _load_remark(before: str) -> str:
    """Whether other work was running: the 1-minute load before the run, on this many cores.
    The load after includes the benchmark's own gunicorn and Celery workers."""
    cores = os.cpu_count() or 1
    if float(before.split(" / ")[0]) < cores / 2:
        return "The machine was quiet before the run; the load after is the benchmark's own servers and workers."
    return (
        f"Above {cores / 2:.1f} on this {cores}-core machine before the run, other work was running and the "
        "latencies are inflated."
    )


def targets(rows, extra) -> list[list[str]]:
    """Each target of the issues against this run's figures (met or missed, computed here)."""

    def verdict(ok):
        return "met" if ok else "**missed**"

    out = []
    if rows:
        worst_q = max(rows, key=lambda r: r["queries"])
        out.append(
            [
                "Every page and list at most 10 queries",
                f"at most {worst_q['queries']} ({worst_q['page'].name})",
                verdict(worst_q["queries"] <= 10),
            ]
        )
        # A page served from the cache runs no SQL: its "baseline" is an empty view, no yardstick.
        with_sql = [r for r in rows if r["queries"]] or rows
        worst = max(with_sql, key=lambda r: r["median"] / r["base_median"])
        ratio = worst["median"] / worst["base_median"]
        out.append(
            [
                "Every page at most 3x its bare baseline (in-process, pages that run SQL)",
                f"at most {ratio:.1f}x ({worst['page'].name})",
                verdict(ratio <= 3),
            ]
        )
        lists = [r for r in rows if "cached" not in r["page"].name and "recomputed" not in r["page"].name]
        slowest = max(lists, key=lambda r: r["median"])
        out.append(
            [
                "Staff queue and every list well under 100 ms median (in-process)",
                f"slowest {slowest['median']:.1f} ms ({slowest['page'].name})",
                verdict(slowest["median"] < 100),
            ]
        )
    for name, value in extra.items():
        figure = float(value.split(" ", 1)[0].replace(",", ""))
        if name.startswith("Usage ingest"):
            out.append([f"{name}: at least 20,000 records/s", value.split(" (")[0], verdict(figure >= 20_000)])
        elif name.startswith("Fast-lane"):
            # A worker is one ``celery worker`` (what a deployment scales); its pool processes
            # share the machine's two cores with PostgreSQL and the mailer.
            processes = int(name.rsplit("with ", 1)[1].split(" ")[0])
            out.append(
                [
                    f"{name}: at least 200 per second per worker",
                    f"{figure:,.0f} per second ({figure / processes:,.0f} per pool process)",
                    verdict(figure >= 200),
                ]
            )
    after_1k = next((v for k, v in extra.items() if "RSS after 1,000" in k), None)
    after_all = next((v for k, v in extra.items() if "RSS after" in k and "1,000 requests" not in k), None)
    if after_1k and after_all:
        growth = max(
            int(b.split()[0]) - int(a.split()[0])
            for a, b in zip(after_1k.split(", "), after_all.split(", "), strict=False)
        )
        out.append(["gunicorn worker memory flat", f"grew at most {growth} MiB", verdict(growth <= 5)])
    return out


def data_shape() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT COUNT(*) FROM hubs_hub), (SELECT COUNT(*) FROM hubs_user),
                      (SELECT COUNT(*) FROM compute_application),
                      (SELECT COUNT(*) FROM compute_application WHERE status = 'in_review'),
                      (SELECT COUNT(*) FROM compute_allocation), (SELECT COUNT(*) FROM compute_usagerecord)"""
        )
        h, u, a, w, al, r = cursor.fetchone()
    return (
        f"{h} hubs, {u:,} users, {a:,} applications ({w:,} waiting for staff), {al:,} allocations, {r:,} usage records"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="pages,http,memory,ingest,decisions")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page in-process")
    parser.add_argument("--http-requests", type=int, default=200, help="requests per page over HTTP")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--decisions", type=int, default=1000, help="fast-lane applications per worker run")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    load_before = load_average()
    setup_django()
    machine = machine_description()
    shape = data_shape()
    print(f"Data: {shape}")
    auth, allocation = logins()
    pages = key_pages(allocation)
    rows, extra = [], {}
    if "pages" in parts:
        print("Pages in-process …", flush=True)
        rows = measure_in_process(pages, auth, args.repeat)
    if parts & {"http", "memory", "ingest"}:
        gunicorn = start_gunicorn()
        try:
            if "http" in parts and rows:
                print(f"Pages over HTTP (gunicorn, 2 workers, {args.clients} clients) …", flush=True)
                measure_http(rows, auth, requests=args.http_requests, clients=args.clients)
            if "ingest" in parts:
                for hubs in (("lyon",), ("helsinki", "berlin")):
                    print(f"Usage ingest through the API, {len(hubs)} sender(s) …", flush=True)
                    rate, n, seconds = measure_ingest(hubs=hubs)
                    who = "one partner system" if len(hubs) == 1 else f"{len(hubs)} partner systems at once"
                    extra[f"Usage ingest through the API (10,000 records per request), {who}"] = (
                        f"{rate:,.0f} records/s ({n:,} records in {seconds:.1f} s)"
                    )
            if "memory" in parts:
                print(f"Worker memory over {args.memory_requests:,} requests …", flush=True)
                readings = measure_memory(gunicorn, pages, auth, total=args.memory_requests, clients=args.clients)
                for checkpoint, sizes in readings.items():
                    extra[f"gunicorn worker RSS after {checkpoint:,} requests"] = ", ".join(
                        f"{kb / 1024:.0f} MiB" for kb in sizes
                    )
        finally:
            stop(gunicorn)
    if "decisions" in parts:
        for processes in (1, 2):
            print(f"Fast-lane decisions, one worker with {processes} pool process(es) …", flush=True)
            rate, approved, seconds = measure_decisions(count=args.decisions, processes=processes)
            extra[f"Fast-lane screening + decision, one worker with {processes} pool process(es)"] = (
                f"{rate:,.0f} applications/s ({args.decisions:,} in {seconds:.1f} s, {approved:,} approved)"
            )
    text = report(rows, extra, machine)
    goals = table(["Target", "This run", ""], targets(rows, extra))
    load_after = load_average()
    print()
    print(f"Data: {shape}\n")
    print(text)
    print(goals)
    print(f"\nLoad average before: {load_before}; after: {load_after}.")
    if args.write_docs:
        write_docs(text, goals, shape, args, (load_before, load_after))
    return 0


COLDFRONT_START, COLDFRONT_END = "<!-- coldfront:start -->", "<!-- coldfront:end -->"
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


def _section(doc, start, end, default):
    """The part of ``doc`` between the markers ``start`` and ``end`` (markers included)."""
    if start in doc and end in doc:
        return doc[doc.index(start) : doc.index(end) + len(end)]
    return f"{start}\n{default}\n{end}"


def write_docs(text, goals, shape, args, loads):
    """docs/benchmarks.md from this run; the ColdFront section (``bench/compare_coldfront.py
    --write-docs``) and the notes (between their markers, written by people: causes and
    remedies, no figures) are kept as they were."""
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    old = path.read_text() if path.exists() else ""
    coldfront = _section(
        old, COLDFRONT_START, COLDFRONT_END, "Not measured yet: `python bench/compare_coldfront.py --write-docs`."
    )
    notes = _section(old, NOTES_START, NOTES_END, "")
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    path.write_text(
        "# Benchmarks\n\n"
        "Every figure below comes from a run of the scripts in `bench/`, written here by them; they are replaced "
        "by the next run and never edited by hand.\n\n"
        "- Seed: `python bench/seed_scale.py` (drops and recreates the PostgreSQL database `gigafactory_bench`)\n"
        "- Measure: `python bench/run.py --write-docs`\n"
        "- Against ColdFront: `python bench/compare_coldfront.py --write-docs`\n"
        "- All three: `make bench`\n\n"
        f"This run: `{command}`. Load average of the machine before the run: {loads[0]}; after: {loads[1]}. "
        f"{_load_remark(loads[0])}\n\n"
        f"Data: {shape}.\n\n"
        "How to read the table: *Queries* is the number of SQL statements of one warm request. *Baseline* is a "
        "bare Django view (`bench/urls.py`) that runs the same SQL statements as the page, verbatim, and returns "
        "their rows as JSON; the *ratio* is what the ORM, forms, templates and serializers cost on top of the "
        "database work. In-process requests use Django's test client; HTTP requests go to gunicorn with 2 "
        "workers from concurrent clients.\n\n"
        + text
        + "\n## Targets\n\n"
        + goals
        + "\n\n## Against ColdFront 1.1.10\n\n"
        + coldfront
        + "\n\n## Causes found and what is left\n\n"
        + notes
        + "\n"
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
