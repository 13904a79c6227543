"""Seed the benchmark database at scale: 10 hubs, 20,000 users, 100,000 applications (2,500
waiting for staff), 50,000 allocations and 2,000,000 usage records with their ledger entries.

The few dozen catalogue rows (hubs, providers, resources, calls, staff) go through the ORM and
the services; the bulk rows are generated inside PostgreSQL with ``INSERT ... SELECT`` over
``generate_series`` (no row crosses the wire), with explicit ids so rows can refer to each
other arithmetically. Check constraints, unique indexes and NOT NULL stay on. Row triggers
(foreign-key checks, the ledger's triggers) are switched off for the bulk statements with
``session_replication_role = replica``, the usual bulk-load setting (checking 10 million
foreign keys one row at a time took most of the time); so the script then checks in bulk what
they would have checked: no dangling reference, every transaction balanced, every balance equal
to its entries, no guarded account below zero, and it fills the call totals the trigger keeps.

    python bench/seed_scale.py             # full size (drops and recreates the bench database)
    python bench/seed_scale.py --scale 0.05  # a quick small run
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DATABASE_URL, Progress, setup_django

HUB_COUNT = 10
HUBS = [
    ("lyon", "Lyon", "FR"),
    ("helsinki", "Helsinki", "FI"),
    ("berlin", "Berlin", "DE"),
    ("lisbon", "Lisbon", "PT"),
    ("zagreb", "Zagreb", "HR"),
    ("barcelona", "Barcelona", "ES"),
    ("bologna", "Bologna", "IT"),
    ("lulea", "Luleå", "SE"),
    ("ostrava", "Ostrava", "CZ"),
    ("kajaani", "Kajaani", "FI"),
]
TRACKS = ["playground", "fast_lane", "peer_review"]
GRANT = 2_000_000  # millicredits per allocation (2,000 credits)
REQUEST = 3_000_000
CALL_FUNDING = 10**12
BENCH_PASSWORD = "bench-password"
STAFF_EMAIL = "staff-{slug}@bench.example"


def partner_keys_file() -> Path:
    """Where the seed leaves the partner keys (secrets are only shown once), per database."""
    name = os.environ.get("DATABASE_URL", BENCH_DATABASE_URL).rsplit("/", 1)[1]
    return Path(__file__).resolve().parent / f".partner_keys.{name}"


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    for cmd in (["dropdb", "--if-exists", "--force"], ["createdb"]):
        subprocess.run([*cmd, "-h", "127.0.0.1", "-U", "postgres", name], check=True)


def sizes(scale: float) -> dict:
    def n(x):
        return max(HUB_COUNT, round(x * scale / HUB_COUNT) * HUB_COUNT)

    allocations = n(50_000)
    return {
        "users": n(20_000),
        "projects": n(25_000),
        "applications": n(100_000),
        "waiting": n(2_500),
        "allocations": allocations,
        "usage_per_allocation": 40,
    }


def catalogue():
    """Hubs, organisations, providers, resources, funded calls, one staff member (with MFA) and one
    partner key per hub, through the ORM and the services."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.utils import timezone

    from compute import ledger, services
    from compute.models import Call, ComputeProvider, ComputeResource, FundingSource
    from hubs import services as hub_services
    from hubs.models import ApiScope, Hub, Membership, MembershipStatus, Organisation, PartnerSystem, Role, User

    now = timezone.now()
    source = FundingSource.objects.create(name="EuroHPC benchmark programme", kind="eu")
    out = {"hubs": [], "orgs": [], "calls": [], "resources": [], "providers": [], "rates": []}
    keys = []
    for slug, city, country in HUBS:
        hub = Hub.objects.create(
            name=f"{city} AI Gigafactory",
            slug=slug,
            city=city,
            country=country,
            contact_email=f"contact@{slug}.bench.example",
        )
        org = Organisation.objects.create(name=f"University of {city}", kind="university", country=country)
        staff = User.objects.create_user(
            email=STAFF_EMAIL.format(slug=slug), password=BENCH_PASSWORD, name=f"Staff {city}", is_staff=True
        )
        EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
        TOTP.activate(staff, generate_totp_secret())
        Membership.objects.create(user=staff, hub=hub, role=Role.STAFF, status=MembershipStatus.ACTIVE)
        partner = PartnerSystem.objects.create(hub=hub, name=f"{city} HPC centre", kind="hpc_centre")
        provider = ComputeProvider.objects.create(name=f"{city} HPC centre", hub=hub, partner=partner)
        resources = [
            ComputeResource.objects.create(
                provider=provider, hub=hub, name=f"{city} H100", gpu_model="NVIDIA H100 80GB", rate_millicredits=1000
            ),
            ComputeResource.objects.create(
                provider=provider, hub=hub, name=f"{city} A100", gpu_model="NVIDIA A100 40GB", rate_millicredits=600
            ),
        ]
        _, secret = hub_services.api_key_create(
            name="bench partner", hub=hub, scope=ApiScope.WRITE, partner=partner, acting_user=staff
        )
        keys.append(f"{slug} {secret}")
        for track in TRACKS:
            call = Call.objects.create(
                hub=hub,
                funding_source=source,
                title=f"{city} {track.replace('_', ' ')} call",
                slug=f"{slug}-{track.replace('_', '-')}",
                track=track,
                opens_at=now - timedelta(days=400),
                closes_at=now + timedelta(days=365),
                max_request_millicredits=50_000_000,
                playground_grant_millicredits=REQUEST if track == "playground" else 0,
            )
            call.eligible_resources.set(resources)
            services.call_fund(call=call, amount_millicredits=CALL_FUNDING, acting_user=staff)
            out["calls"].append(call.pk)
        ledger.provider_account(provider)
        out["hubs"].append(hub.pk)
        out["orgs"].append(org.pk)
        out["providers"].append(provider.pk)
        out["resources"].extend(r.pk for r in resources)
        out["rates"].extend(r.rate_millicredits for r in resources)
    partner_keys_file().write_text("\n".join(keys) + "\n")
    return out


def drop_secondary_indexes(cursor, tables) -> list[str]:
    """Drop the unique constraints and indexes (not the primary keys) of ``tables``; returns the
    statements that create them again. Foreign keys that reference one of those unique
    constraints (``usage_charged_by_transaction``) go first and come back last, checked again
    against every row."""
    cursor.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.contype = 'f' AND c.conindid IN (
                  SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary)""",
        [tables],
    )
    keys = cursor.fetchall()
    for table, name, _definition in keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    again = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            again.append(definition)
    return again + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in keys]


def arr(values) -> str:
    return "ARRAY[" + ",".join(str(int(v)) for v in values) + "]::bigint[]"


def bulk(cat: dict, n: dict, progress: Progress, cursor) -> None:
    from django.contrib.auth.hashers import make_password

    H = HUB_COUNT
    U, P, A, W, AL, K = (
        n["users"],
        n["projects"],
        n["applications"],
        n["waiting"],
        n["allocations"],
        n["usage_per_allocation"],
    )
    R = AL * K

    def base(table):
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return cursor.fetchone()[0]

    ub, pb, ab, alb, acb, tb, eb, urb = (
        base(t)
        for t in (
            "hubs_user",
            "compute_project",
            "compute_application",
            "compute_allocation",
            "compute_account",
            "compute_transaction",
            "compute_entry",
            "compute_usagerecord",
        )
    )
    hubs, orgs, calls, resources, providers, rates = (
        arr(cat[k]) for k in ("hubs", "orgs", "calls", "resources", "providers", "rates")
    )
    cursor.execute("SELECT id, call_id FROM compute_account WHERE kind = 'call_budget'")
    call_account = dict((call, acct) for acct, call in cursor.fetchall())
    call_accounts = arr(call_account[c] for c in cat["calls"])
    cursor.execute("SELECT provider_id, id FROM compute_account WHERE kind = 'provider'")
    provider_account = dict(cursor.fetchall())
    provider_accounts = arr(provider_account[p] for p in cat["providers"])
    password = make_password(BENCH_PASSWORD)
    assert "'" not in password

    def run(label, sql, params=None):
        cursor.execute(sql, params)
        progress.step(label)

    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    # The three big tables get their secondary indexes and unique constraints back after the
    # load: one sorted build per index is much faster than 2 million ordered insertions each.
    rebuild = drop_secondary_indexes(cursor, ["compute_transaction", "compute_usagerecord", "compute_entry"])

    # Row g of each kind belongs to hub (g - 1) % H (U, P and A are multiples of H).
    run(
        f"{U:,} users",
        f"""INSERT INTO hubs_user (id, password, is_superuser, first_name, last_name, is_staff, is_active,
                                  date_joined, email, name)
            SELECT {ub} + g, '{password}', false, '', '', false, true, now() - (g % 700) * interval '1 day',
                   'researcher' || g || '@bench.example', 'Researcher ' || g
              FROM generate_series(1, {U}) g""",
    )
    run(
        "e-mail addresses, profiles, memberships",
        f"""INSERT INTO account_emailaddress (email, verified, "primary", user_id)
                SELECT 'researcher' || g || '@bench.example', true, true, {ub} + g FROM generate_series(1, {U}) g;
            INSERT INTO hubs_profile (orcid, affiliation, country, expertise, email_notifications, updated_at,
                                      organisation_id, user_id)
                SELECT '', '', '', '', false, now(), ({orgs})[(g - 1) % {H} + 1], {ub} + g
                  FROM generate_series(1, {U}) g;
            INSERT INTO hubs_membership (role, status, motivation, decision_note, decided_at, created_at,
                                         updated_at, hub_id, user_id)
                SELECT 'member', 'active', '', '', now(), now(), now(), ({hubs})[(g - 1) % {H} + 1], {ub} + g
                  FROM generate_series(1, {U}) g""",
    )
    run(
        f"{P:,} projects with their PI",
        f"""INSERT INTO compute_project (id, title, summary, created_at, hub_id, organisation_id, pi_id)
                SELECT {pb} + p, 'Project ' || p, 'A benchmark project.', now() - interval '400 days',
                       ({hubs})[(p - 1) % {H} + 1], ({orgs})[(p - 1) % {H} + 1], {ub} + (p - 1) % {U} + 1
                  FROM generate_series(1, {P}) p;
            INSERT INTO compute_projectmember (role, added_at, project_id, user_id)
                SELECT 'pi', now(), {pb} + p, {ub} + (p - 1) % {U} + 1 FROM generate_series(1, {P}) p""",
    )
    # Applications 1..AL are approved (with allocations), the next W wait for staff (in review),
    # the rest are rejected, withdrawn, drafts or answering a change request.
    run(
        f"{A:,} applications",
        f"""INSERT INTO compute_application (
                id, title, abstract, justification, duration_days, data_sensitivity, civilian_use, ai_system_name,
                status, requested_millicredits, granted_millicredits, decision_reason, screening_round,
                created_at, updated_at, submitted_at, decided_at, applicant_id, decided_by_id, hub_id, call_id,
                project_id)
            SELECT {ab} + a, 'Application ' || a || ': training a model for hub ' || ((a - 1) % {H} + 1),
                   'What the GPUs are for, in a few lines.', 'Why these GPU-hours.', 180, 'none', true, '',
                   st, {REQUEST}, CASE WHEN st = 'approved' THEN {GRANT} END, '', 1,
                   sub - interval '1 hour', sub, CASE WHEN st = 'draft' THEN NULL ELSE sub END,
                   CASE WHEN st IN ('approved', 'rejected')
                        THEN sub + CASE t WHEN 0 THEN interval '4 seconds' WHEN 1 THEN interval '40 seconds'
                                          ELSE interval '9 days' END END,
                   {ub} + ((a - 1) % {P}) % {U} + 1, NULL, ({hubs})[(a - 1) % {H} + 1],
                   ({calls})[((a - 1) % {H}) * 3 + t + 1], {pb} + (a - 1) % {P} + 1
              FROM (
                SELECT a, ((a - 1) / {H}) % 3 AS t,
                       now() - interval '20 days' - ((a * 7919) % (340 * 86400)) * interval '1 second' AS sub,
                       CASE WHEN a <= {AL} THEN 'approved'
                            WHEN a <= {AL + W} THEN 'in_review'
                            ELSE (ARRAY['rejected', 'withdrawn', 'draft', 'changes_requested'])[a % 4 + 1]
                       END AS st
                  FROM generate_series(1, {A}) a) s""",
    )
    run(
        "resource requests",
        f"""INSERT INTO compute_resourcerequest (gpu_hours, application_id, resource_id)
            SELECT {REQUEST} / ({rates})[((a - 1) % {H}) * 2 + a % 2 + 1], {ab} + a,
                   ({resources})[((a - 1) % {H}) * 2 + a % 2 + 1]
              FROM generate_series(1, {A}) a""",
    )
    run(
        f"{AL:,} allocations and their accounts",
        f"""INSERT INTO compute_allocation (id, granted_millicredits, starts_on, ends_on, status, slurm_account,
                                           created_at, hub_id, application_id, call_id, project_id)
                SELECT {alb} + (x.id - {ab}), {GRANT}, x.decided_at::date, x.decided_at::date + 400, 'active', '',
                       x.decided_at, x.hub_id, x.id, x.call_id, x.project_id
                  FROM compute_application x
                 WHERE x.id BETWEEN {ab} + 1 AND {ab} + {AL};
            INSERT INTO compute_account (id, kind, balance, allocation_id)
                SELECT {acb} + a, 'allocation', 0, {alb} + a FROM generate_series(1, {AL}) a""",
    )
    # Grants: transaction a moves GRANT from the call budget to allocation a.
    run(
        "grant transactions and entries",
        f"""INSERT INTO compute_transaction (id, kind, idempotency_key, memo, created_at)
                SELECT {tb} + a, 'grant', 'grant:' || ({ab} + a), 'Grant for application ' || ({ab} + a),
                       al.created_at
                  FROM generate_series(1, {AL}) a JOIN compute_allocation al ON al.id = {alb} + a;
            INSERT INTO compute_entry (id, amount, balance_after, created_at, account_id, transaction_id)
                SELECT {eb} + 2 * a - 1, -{GRANT},
                       {CALL_FUNDING} - {GRANT} * row_number() OVER (PARTITION BY al.call_id ORDER BY a),
                       al.created_at, ({call_accounts})[array_position({calls}, al.call_id)], {tb} + a
                  FROM generate_series(1, {AL}) a JOIN compute_allocation al ON al.id = {alb} + a
                UNION ALL
                SELECT {eb} + 2 * a, {GRANT}, {GRANT}, al.created_at, {acb} + a, {tb} + a
                  FROM generate_series(1, {AL}) a JOIN compute_allocation al ON al.id = {alb} + a""",
    )
    # Usage: allocation a ran K jobs of (5 + a % 10) GPU-hours each on its application's resource,
    # spread from the allocation's start to now. Record r = (a - 1) * K + k.
    usage = f"""
        SELECT a, k, (a - 1) * {K} + k AS r, al.hub_id,
               ({providers})[(a - 1) % {H} + 1] AS provider_id,
               ({resources})[((a - 1) % {H}) * 2 + a % 2 + 1] AS resource_id,
               (5 + a % 10) * 3600 AS gpu_seconds,
               (5 + a % 10) * ({rates})[((a - 1) % {H}) * 2 + a % 2 + 1] AS cost,
               al.created_at + (now() - al.created_at) * (k - 1) / {K} AS started_at
          FROM generate_series(1, {AL}) a
          JOIN compute_allocation al ON al.id = {alb} + a
          CROSS JOIN generate_series(1, {K}) k"""
    run(
        f"{R:,} usage transactions",
        f"""INSERT INTO compute_transaction (id, kind, idempotency_key, memo, allocation_id, created_at)
            SELECT {tb} + {AL} + r, 'usage', 'usage:' || provider_id || ':job-' || r, 'Job job-' || r, {alb} + a,
                   started_at + gpu_seconds * interval '1 second'
              FROM ({usage}) u""",
    )
    run(
        f"{R:,} usage records",
        f"""INSERT INTO compute_usagerecord (id, external_id, user_label, gpu_seconds, started_at, ended_at,
                                            millicredits, created_at, allocation_id, provider_id, resource_id,
                                            transaction_id)
            SELECT {urb} + r, 'job-' || r, 'researcher' || ((a - 1) % {U} + 1), gpu_seconds, started_at,
                   started_at + gpu_seconds * interval '1 second', cost,
                   started_at + gpu_seconds * interval '1 second', {alb} + a, provider_id, resource_id,
                   {tb} + {AL} + r
              FROM ({usage}) u""",
    )
    run(
        f"{2 * R:,} usage entries",
        f"""INSERT INTO compute_entry (id, amount, balance_after, created_at, account_id, transaction_id)
            SELECT {eb} + 2 * {AL} + 2 * r - 1, -cost, {GRANT} - k * cost,
                   started_at + gpu_seconds * interval '1 second', {acb} + a, {tb} + {AL} + r
              FROM ({usage}) u
            UNION ALL
            SELECT {eb} + 2 * {AL} + 2 * r, cost, SUM(cost) OVER (PARTITION BY provider_id ORDER BY r),
                   started_at + gpu_seconds * interval '1 second',
                   ({provider_accounts})[array_position({providers}, provider_id)], {tb} + {AL} + r
              FROM ({usage}) u""",
    )
    for statement in rebuild:
        cursor.execute(statement)
    progress.step(f"{len(rebuild)} indexes and constraints rebuilt")
    run(
        "account balances",
        """UPDATE compute_account a SET balance = s.total
             FROM (SELECT account_id, SUM(amount) AS total FROM compute_entry GROUP BY account_id) s
            WHERE s.account_id = a.id AND a.balance <> s.total""",
    )
    # The trigger that keeps the call totals did not fire in replica mode: add what the bulk
    # grants and usage put on each call (``check`` compares the result with the entries).
    run(
        "call ledger totals",
        f"""UPDATE compute_calltotals c
               SET granted_millicredits = c.granted_millicredits + s.granted,
                   used_millicredits = c.used_millicredits + s.used
              FROM (SELECT al.call_id, SUM(al.granted_millicredits) AS granted, COALESCE(SUM(u.used), 0) AS used
                      FROM compute_allocation al
                      LEFT JOIN (SELECT allocation_id, SUM(millicredits) AS used FROM compute_usagerecord
                                  WHERE id > {urb} GROUP BY allocation_id) u ON u.allocation_id = al.id
                     WHERE al.id > {alb}
                     GROUP BY al.call_id) s
             WHERE s.call_id = c.call_id""",
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    cursor.execute(
        """SELECT 'SELECT setval(' || quote_literal(pg_get_serial_sequence(c.table_name, 'id')) ||
                  ', (SELECT COALESCE(MAX(id), 1) FROM ' || c.table_name || '))'
             FROM information_schema.columns c
            WHERE c.column_name = 'id' AND c.table_schema = 'public'
              AND pg_get_serial_sequence(c.table_name, 'id') IS NOT NULL"""
    )
    for (statement,) in cursor.fetchall():
        cursor.execute(statement)
    run("VACUUM ANALYZE", "VACUUM ANALYZE")


# (child table, column, parent table) for every reference the bulk statements wrote.
REFERENCES = [
    ("account_emailaddress", "user_id", "hubs_user"),
    ("hubs_profile", "user_id", "hubs_user"),
    ("hubs_membership", "user_id", "hubs_user"),
    ("compute_project", "pi_id", "hubs_user"),
    ("compute_projectmember", "project_id", "compute_project"),
    ("compute_application", "project_id", "compute_project"),
    ("compute_application", "applicant_id", "hubs_user"),
    ("compute_application", "call_id", "compute_call"),
    ("compute_resourcerequest", "application_id", "compute_application"),
    ("compute_resourcerequest", "resource_id", "compute_computeresource"),
    ("compute_allocation", "application_id", "compute_application"),
    ("compute_account", "allocation_id", "compute_allocation"),
    ("compute_entry", "account_id", "compute_account"),
    ("compute_entry", "transaction_id", "compute_transaction"),
    ("compute_usagerecord", "allocation_id", "compute_allocation"),
    ("compute_usagerecord", "resource_id", "compute_computeresource"),
    ("compute_usagerecord", "provider_id", "compute_computeprovider"),
    ("compute_usagerecord", "transaction_id", "compute_transaction"),
    ("compute_transaction", "allocation_id", "compute_allocation"),
]


def check(cursor) -> list[str]:
    problems = []
    for child, column, parent in REFERENCES:
        cursor.execute(
            f"SELECT COUNT(*) FROM {child} c WHERE c.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
        )
        if (n := cursor.fetchone()[0]) != 0:
            problems.append(f"{n} rows of {child}.{column} point to no {parent}")
    # What the composite keys usage_resource_of_provider and usage_charged_by_transaction hold
    # to (migrations compute 0010 and 0011).
    cursor.execute(
        "SELECT COUNT(*) FROM compute_usagerecord u JOIN compute_computeresource r ON r.id = u.resource_id"
        " WHERE r.provider_id <> u.provider_id"
    )
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} usage records name a provider that is not their resource's")
    cursor.execute(
        "SELECT COUNT(*) FROM compute_usagerecord u JOIN compute_transaction t ON t.id = u.transaction_id"
        " WHERE t.allocation_id IS DISTINCT FROM u.allocation_id"
    )
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} usage records were charged by a transaction of another allocation")
    cursor.execute(
        """SELECT COUNT(*) FROM compute_call c
             LEFT JOIN compute_calltotals k ON k.call_id = c.id
             LEFT JOIN (
                  SELECT COALESCE(al.call_id, a.call_id) AS call_id,
                         SUM(CASE WHEN t.kind = 'usage' THEN -e.amount ELSE 0 END) AS used,
                         SUM(CASE WHEN t.kind = 'fund' THEN e.amount ELSE 0 END) AS funded,
                         SUM(CASE WHEN t.kind = 'grant' THEN -e.amount ELSE 0 END) AS granted
                    FROM compute_entry e
                    JOIN compute_transaction t ON t.id = e.transaction_id
                    JOIN compute_account a ON a.id = e.account_id
                    LEFT JOIN compute_allocation al ON al.id = a.allocation_id
                   WHERE (t.kind = 'usage' AND a.kind IN ('allocation', 'overage'))
                      OR (t.kind IN ('fund', 'grant') AND a.kind = 'call_budget')
                   GROUP BY 1) s ON s.call_id = c.id
            WHERE (COALESCE(k.used_millicredits, 0), COALESCE(k.funded_millicredits, 0),
                   COALESCE(k.granted_millicredits, 0))
                  IS DISTINCT FROM (COALESCE(s.used, 0), COALESCE(s.funded, 0), COALESCE(s.granted, 0))"""
    )
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} calls whose ledger totals (funded, granted, used) differ from their entries")
    cursor.execute(
        """SELECT COUNT(*) FROM compute_account a
             LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM compute_entry GROUP BY account_id) s
                    ON s.account_id = a.id
            WHERE a.balance <> COALESCE(s.total, 0)"""
    )
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} accounts whose balance differs from the sum of their entries")
    # Every transaction balances and has entries on at least two accounts (a transaction
    # without entries would balance trivially).
    cursor.execute(
        """SELECT COUNT(*) FROM compute_transaction t
             LEFT JOIN (SELECT transaction_id, SUM(amount) AS total, MIN(account_id) <> MAX(account_id) AS two
                          FROM compute_entry GROUP BY transaction_id) e ON e.transaction_id = t.id
            WHERE e.total IS DISTINCT FROM 0 OR NOT e.two"""
    )
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} transactions that are unbalanced or have entries on fewer than two accounts")
    cursor.execute("SELECT COUNT(*) FROM compute_account WHERE kind IN ('allocation', 'call_budget') AND balance < 0")
    if (n := cursor.fetchone()[0]) != 0:
        problems.append(f"{n} guarded accounts below zero")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1)")
    parser.add_argument("--keep", action="store_true", help="do not drop and recreate the database")
    args = parser.parse_args()
    url = os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    n = sizes(args.scale)
    started = time.perf_counter()
    if not args.keep:
        recreate_database(url)
    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    progress = Progress(total=16)
    with transaction.atomic():
        cat = catalogue()
    progress.step("catalogue: hubs, calls, staff, partner keys")
    with connection.cursor() as cursor:
        bulk(cat, n, progress, cursor)
        problems = check(cursor)
        progress.step("integrity and ledger checks")
        cursor.execute(
            """SELECT (SELECT COUNT(*) FROM hubs_hub), (SELECT COUNT(*) FROM hubs_user),
                      (SELECT COUNT(*) FROM compute_application),
                      (SELECT COUNT(*) FROM compute_application WHERE status = 'in_review'),
                      (SELECT COUNT(*) FROM compute_allocation), (SELECT COUNT(*) FROM compute_usagerecord),
                      (SELECT COUNT(*) FROM compute_entry), pg_size_pretty(pg_database_size(current_database()))"""
        )
        hubs, users, apps, waiting, allocs, usage, entries, size = cursor.fetchone()
    done = time.perf_counter()
    print(
        f"Seeded {hubs} hubs, {users:,} users, {apps:,} applications ({waiting:,} waiting for staff), "
        f"{allocs:,} allocations, {usage:,} usage records, {entries:,} ledger entries; database {size}."
    )
    print(f"Seed time: {done - migrated:.1f} s (plus {migrated - started:.1f} s to create and migrate the database).")
    if problems:
        print("LEDGER CHECK FAILED: " + "; ".join(problems))
        return 1
    print(
        "Checked: no dangling reference; every balance equals its entries; every transaction balances "
        "(entries on two accounts or more, summing to zero); no guarded account below zero; the call "
        "totals (funded, granted, used) equal their entries."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
