"""Measure a real peer next to the portal: ColdFront 1.1.10 (the HPC allocation portal many
centres run), seeded with the same shape of data as ``bench/seed_scale.py``, on the same
PostgreSQL server, in the same run.

    python bench/compare_coldfront.py               # full size (run bench/seed_scale.py first)
    python bench/compare_coldfront.py --scale 0.05  # a quick small run (seed at the same scale)
    python bench/compare_coldfront.py --write-docs  # also write the table into docs/benchmarks.md

What it does:

1. ColdFront gets a virtual environment of its own (``bench/.coldfront-venv``, git-ignored):
   ``pip install coldfront==1.1.10`` from PyPI, with psycopg2 for PostgreSQL. Nothing of it is
   committed but this script.
2. Its settings point at a PostgreSQL database of its own (``coldfront_bench``, recreated each
   run), set up with ColdFront's own ``initial_setup`` (migrations, choices, fields of science).
3. The same shape as the portal's bench database goes in with ``INSERT ... SELECT`` over
   ``generate_series``: as many users and projects (each with its PI as an active manager),
   one active allocation on one GPU resource for each of the portal's allocations (with its
   PI as allocation user), and as many pending allocation requests (status "New") as the
   portal has applications waiting for staff.
4. Both run in-process with Django's test client, logged in as a superuser (the portal's
   has TOTP, as staff pages require), each against its own database: ColdFront's allocation
   list (every allocation, 25 per page) and allocation-request list (every pending request on
   one page, which is how ColdFront shows it), next to the portal's application list (the
   staff queue with every status, 25 per page) and staff queue (applications waiting for
   staff, 25 per page). Per page: queries, median and p95 latency, and the ratios.

This file runs twice: in the portal's environment (the driver) and, with ``--coldfront-side``,
in ColdFront's, which prints its figures as one JSON line starting with ``RESULT``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".coldfront-venv"
CF_PYTHON = VENV / "bin" / "python"
COLDFRONT = "coldfront==1.1.10"
PSYCOPG2 = "psycopg2-binary==2.9.13"
CF_DATABASE = "coldfront_bench"
CF_DB_URL = f"psql://postgres@127.0.0.1:5432/{CF_DATABASE}"
CF_PASSWORD = "bench-password"
SUPERUSER_EMAIL = "bench-superuser@bench.example"


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _time_page(client, path, repeat):
    """(status, queries on a warm request, [ms per request]) for ``repeat`` requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: templates, caches, the connection
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    queries = len(captured.captured_queries)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return response.status_code, queries, times


# --- ColdFront's side (runs in ColdFront's virtual environment) -----------------------------


def coldfront_seed(cursor, n):
    """The same shape as the portal's bench database, in ColdFront's tables."""
    from django.contrib.auth.hashers import make_password

    U, P, AL, W = n["users"], n["projects"], n["allocations"], n["waiting"]
    password = make_password(CF_PASSWORD)
    assert "'" not in password

    def ids(table):
        cursor.execute(f"SELECT name, id FROM {table}")
        return dict(cursor.fetchall())

    project_status, role, pu_status = (
        ids("project_projectstatuschoice"),
        ids("project_projectuserrolechoice"),
        ids("project_projectuserstatuschoice"),
    )
    alloc_status, au_status = ids("allocation_allocationstatuschoice"), ids("allocation_allocationuserstatuschoice")
    cursor.execute("SELECT id FROM resource_resourcetype WHERE name = 'Cluster'")
    (cluster,) = cursor.fetchone()
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM auth_user")
    (ub,) = cursor.fetchone()
    statements = [
        f"""INSERT INTO resource_resource (created, modified, name, description, is_available, is_public,
                                           is_allocatable, requires_payment, resource_type_id)
            SELECT now(), now(), 'GPU cluster ' || r, 'A benchmark GPU cluster.', true, true, true, false, {cluster}
              FROM generate_series(1, 20) r""",
        f"""INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined)
            SELECT {ub} + g, '{password}', false, 'researcher' || g, 'Researcher', g::text,
                   'researcher' || g || '@bench.example', false, true, now()
              FROM generate_series(1, {U}) g""",
        f"INSERT INTO user_userprofile (is_pi, user_id) SELECT g <= {P}, {ub} + g FROM generate_series(1, {U}) g",
        f"""INSERT INTO project_project (id, created, modified, title, description, force_review, requires_review,
                                         field_of_science_id, pi_id, status_id, project_code, institution)
            SELECT p, now(), now(), 'Project ' || p, 'A benchmark project: training a model on GPUs.', false, false,
                   149, {ub} + (p - 1) % {U} + 1, {project_status["Active"]}, '', 'None'
              FROM generate_series(1, {P}) p""",
        f"""INSERT INTO project_projectuser (created, modified, enable_notifications, project_id, role_id, status_id,
                                             user_id)
            SELECT now(), now(), true, p, {role["Manager"]}, {pu_status["Active"]}, {ub} + (p - 1) % {U} + 1
              FROM generate_series(1, {P}) p""",
        # Allocations 1..AL are active, the next W are pending requests ("New").
        f"""INSERT INTO allocation_allocation (id, created, modified, quantity, start_date, end_date, justification,
                                               description, project_id, status_id, is_locked, is_changeable)
            SELECT a, now() - (a % 340) * interval '1 day', now(), 1,
                   CASE WHEN a <= {AL} THEN current_date - a % 340 END,
                   CASE WHEN a <= {AL} THEN current_date - a % 340 + 400 END,
                   'Why these GPU-hours.', 'Training a model for hub ' || (a % 10 + 1), (a - 1) % {P} + 1,
                   CASE WHEN a <= {AL} THEN {alloc_status["Active"]} ELSE {alloc_status["New"]} END, false, false
              FROM generate_series(1, {AL + W}) a""",
        f"""INSERT INTO allocation_allocation_resources (allocation_id, resource_id)
            SELECT a, (SELECT MIN(id) FROM resource_resource) + a % 20 FROM generate_series(1, {AL + W}) a""",
        f"""INSERT INTO allocation_allocationuser (created, modified, allocation_id, status_id, user_id)
            SELECT now(), now(), a, {au_status["Active"]}, {ub} + ((a - 1) % {P}) % {U} + 1
              FROM generate_series(1, {AL + W}) a""",
    ]
    for sql in statements:
        cursor.execute(sql)
    for table in ("auth_user", "project_project", "allocation_allocation"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    cursor.execute("ANALYZE")


def coldfront_side(n, repeat, slow_repeat):
    os.environ.update(
        DB_URL=CF_DB_URL,
        SECRET_KEY="coldfront-bench",
        DEBUG="False",
        STATIC_ROOT=str(VENV / "static_root"),
        DJANGO_SETTINGS_MODULE="coldfront.config.settings",
    )
    for cmd in (["dropdb", "--if-exists", "--force"], ["createdb"]):
        subprocess.run([*cmd, "-h", "127.0.0.1", "-U", "postgres", CF_DATABASE], check=True)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    call_command("initial_setup", force_overwrite=True, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        coldfront_seed(cursor, n)
    seeded = time.perf_counter() - started
    admin = User.objects.create_superuser("bench-admin", "admin@bench.example", CF_PASSWORD)
    client = Client()
    client.force_login(admin)
    pages = {
        "allocation_list": ("/allocation/?show_all_allocations=on", repeat),
        "request_list": ("/allocation/request-list", slow_repeat),
    }
    out = {"seconds_to_seed": seeded}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT COUNT(*) FROM auth_user), (SELECT COUNT(*) FROM project_project),
                      (SELECT COUNT(*) FROM allocation_allocation a JOIN allocation_allocationstatuschoice s
                          ON s.id = a.status_id WHERE s.name = 'Active'),
                      (SELECT COUNT(*) FROM allocation_allocation a JOIN allocation_allocationstatuschoice s
                          ON s.id = a.status_id WHERE s.name = 'New')"""
        )
        out["users"], out["projects"], out["allocations"], out["pending"] = cursor.fetchone()
    for name, (path, times) in pages.items():
        status, queries, timings = _time_page(client, path, times)
        if status != 200:
            raise SystemExit(f"ColdFront {path} answered {status}")
        out[name] = {"path": path, "queries": queries, "times": timings}
    print("RESULT " + json.dumps(out), flush=True)


# --- The portal's side ----------------------------------------------------------------------


def ensure_venv() -> None:
    if not CF_PYTHON.exists():
        print(f"Creating {VENV.relative_to(ROOT)} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run(
        [str(CF_PYTHON), "-c", "import importlib.metadata as m; print(m.version('coldfront'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != COLDFRONT.split("==")[1]:
        print(f"pip install {COLDFRONT} {PSYCOPG2} …", flush=True)
        subprocess.run([str(CF_PYTHON), "-m", "pip", "install", "--quiet", COLDFRONT, PSYCOPG2], check=True)


def portal_superuser():
    """A superuser with TOTP (staff pages ask staff for MFA first), created once."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from hubs.models import User

    user = User.objects.filter(email=SUPERUSER_EMAIL).first()
    if user is None:
        user = User.objects.create_superuser(email=SUPERUSER_EMAIL, password=CF_PASSWORD, name="Bench superuser")
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        TOTP.activate(user, generate_totp_secret())
    return user


def portal_side(repeat):
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT COUNT(*) FROM hubs_user), (SELECT COUNT(*) FROM compute_project),
                      (SELECT COUNT(*) FROM compute_allocation),
                      (SELECT COUNT(*) FROM compute_application WHERE status = 'in_review'),
                      (SELECT COUNT(*) FROM compute_application)"""
        )
        users, projects, allocations, waiting, applications = cursor.fetchone()
    client = Client()
    client.force_login(portal_superuser())
    queue = reverse("compute:staff_queue")
    out = {
        "users": users,
        "projects": projects,
        "allocations": allocations,
        "pending": waiting,
        "applications": applications,
    }
    for name, path in (("application_list", f"{queue}?status=all"), ("staff_queue", f"{queue}?status=waiting")):
        status, queries, timings = _time_page(client, path, repeat)
        if status != 200:
            raise SystemExit(f"the portal's {path} answered {status}")
        out[name] = {"path": path, "queries": queries, "times": timings}
    return out


def report(cf, ours) -> str:
    from bench.common import table

    rows = []
    for label, cf_key, our_label, our_key in (
        (
            "Allocation list (all, 25 per page)",
            "allocation_list",
            "Application list (every status, 25 per page)",
            "application_list",
        ),
        (
            "Allocation request list (all pending, one page)",
            "request_list",
            "Staff queue (waiting, 25 per page)",
            "staff_queue",
        ),
    ):
        c, o = cf[cf_key], ours[our_key]
        cm, om = _median(c["times"]), _median(o["times"])
        rows.append(
            [
                f"{label} vs {our_label}",
                f"{c['queries']:,} / {o['queries']}",
                f"{cm:,.1f} / {om:.1f}",
                f"{_p95(c['times']):,.1f} / {_p95(o['times']):.1f}",
                f"{cm / om:,.0f}x faster",
                f"{c['queries'] / o['queries']:,.0f}x fewer",
            ]
        )
    shape = (
        f"ColdFront: {cf['users']:,} users, {cf['projects']:,} projects, {cf['allocations']:,} active allocations, "
        f"{cf['pending']:,} pending requests (seeded in {cf['seconds_to_seed']:.0f} s). Portal: {ours['users']:,} "
        f"users, {ours['projects']:,} projects, {ours['allocations']:,} allocations, {ours['applications']:,} "
        f"applications of which {ours['pending']:,} wait for staff."
    )
    headers = [
        "ColdFront page vs portal page",
        "Queries (CF / ours)",
        "Median ms (CF / ours)",
        "p95 ms (CF / ours)",
        "Latency ratio",
        "Query ratio",
    ]
    return shape + "\n\n" + table(headers, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (as seed_scale.py)")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per fast page")
    parser.add_argument("--slow-repeat", type=int, default=3, help="timed requests of ColdFront's request list")
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/benchmarks.md")
    parser.add_argument("--coldfront-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.coldfront_side:
        coldfront_side(json.loads(args.coldfront_side), args.repeat, args.slow_repeat)
        return 0

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    from bench.common import setup_django
    from bench.seed_scale import sizes

    ensure_venv()
    setup_django()
    ours = portal_side(args.repeat)
    n = sizes(args.scale) | {"waiting": ours["pending"], "allocations": ours["allocations"]}
    print(f"ColdFront: seeding {CF_DATABASE} and measuring (its request list takes seconds per view) …", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    done = subprocess.run(
        [
            str(CF_PYTHON),
            "-I",
            __file__,
            "--coldfront-side",
            json.dumps(n),
            "--repeat",
            str(args.repeat),
            "--slow-repeat",
            str(args.slow_repeat),
        ],
        cwd=VENV,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit("the ColdFront side failed")
    cf = json.loads(line.removeprefix("RESULT "))
    text = report(cf, ours)
    print()
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


START, END = "<!-- coldfront:start -->", "<!-- coldfront:end -->"


def write_docs(text):
    """Replace the ColdFront section of docs/benchmarks.md (between its markers) with ``text``."""
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + section + doc[doc.index(END) + len(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n## Against ColdFront 1.1.10\n\n" + section + "\n"
    path.write_text(doc)
    print(f"Wrote the ColdFront section of {path}")


if __name__ == "__main__":
    sys.exit(main())
