"""Fault 4: the database goes away, mid-request and for a while.

The portal runs under gunicorn on PostgreSQL. Mid-request: a staff approval is held at its
ledger step (the test holds a lock on the call's budget account) after it has already moved
the application and created the allocation in its transaction; then its database session is
terminated (``pg_terminate_backend``, as a restart or failover would). The client gets a clean
JSON 503, nothing of the half-done approval is left, and the same request succeeds once retried.

For a while: connections to the database are refused (``ALLOW_CONNECTIONS false``) and the
server's sessions are cut. Pages answer the 503 page, the API a JSON 503, ``/readyz`` 503 and
``/healthz`` still 200; when the database accepts connections again, the same process serves
every one of them normally, without a restart.
"""

import threading

import psycopg
import pytest
from django.db import connection
from django.test import Client

from compute import ledger
from compute.models import Allocation, AppStatus, Transaction, TransactionKind
from gigafactory.models import AuditEvent
from tests.compute.factories import ApplicationFactory, budget_left, set_status
from tests.worker import test_database_url as database_url

from .conftest import REQUEST, bearer, fast_lane_call
from .ledger_checks import assert_ledger_consistent
from .stack import SERVER_APP_NAME, gunicorn, poll, require_postgres

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def admin_connection(dbname=None):
    """A connection of the test's own, outside Django's, to lock rows and cut sessions."""
    url = database_url()
    if dbname:
        url = url.rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(url, autocommit=True)


def server_backends(conn, *, waiting_on_lock=False) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
    if waiting_on_lock:
        sql += " AND wait_event_type = 'Lock'"
    return [row[0] for row in conn.execute(sql, [SERVER_APP_NAME]).fetchall()]


def terminate_server_backends(conn) -> int:
    pids = server_backends(conn)
    for pid in pids:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)


def test_database_lost_mid_approval_is_a_503_and_leaves_nothing_half_written(world, tmp_path):
    require_postgres()
    call = fast_lane_call(world, budget=5 * REQUEST)
    app = set_status(ApplicationFactory(call=call, project=world.project), AppStatus.IN_REVIEW)
    budget_account = ledger.call_account(call)
    url = f"/api/v1/applications/{app.pk}/approve/"

    with (
        gunicorn(tmp_path, workers=1, threads=2, REDIS_URL="", DJANGO_CONN_MAX_AGE="60") as server,
        admin_connection() as admin,
    ):
        assert server.get("/api/v1/calls/", headers=bearer(world.staff_key)).status_code == 200
        holder = psycopg.connect(database_url())  # a transaction that holds the budget row
        holder.execute("SELECT id FROM compute_account WHERE id = %s FOR UPDATE", [budget_account.pk])
        result = {}
        request = threading.Thread(
            target=lambda: result.update(response=server.post(url, json={}, headers=bearer(world.staff_key)))
        )
        request.start()
        # The approval is now inside its transaction, waiting for the budget row: cut it there.
        poll(lambda: server_backends(admin, waiting_on_lock=True), timeout=60, log=server.log)
        assert terminate_server_backends(admin) >= 1
        request.join(timeout=60)
        holder.rollback()
        holder.close()

        response = result["response"]
        assert response.status_code == 503, response.text[:500]
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Retry-After"] == "5"
        assert response.json()["code"] == "unavailable"

        # Nothing half-written: the status change, the allocation and its audit entry went with it.
        app.refresh_from_db()
        assert app.status == AppStatus.IN_REVIEW
        assert not Allocation.objects.exists()
        assert not Transaction.objects.filter(kind=TransactionKind.GRANT).exists()
        assert not AuditEvent.objects.filter(action__in=["application.approve", "allocation.created"]).exists()
        assert budget_left(call) == 5 * REQUEST

        # The same process serves again: the client retries and the approval goes through once.
        retried = server.post(url, json={}, headers=bearer(world.staff_key))
        assert retried.status_code == 200, retried.text[:500]
        assert retried.json()["status"] == AppStatus.APPROVED

    assert Allocation.objects.filter(application=app).count() == 1
    assert budget_left(call) == 4 * REQUEST
    assert_ledger_consistent()


def _session_cookie(user) -> dict:
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def test_database_away_for_a_while_gives_503s_and_the_same_process_recovers(world, tmp_path):
    require_postgres()
    database = connection.settings_dict["NAME"]
    signed_in = _session_cookie(world.applicant)
    pages = {
        "/": None,  # anonymous page
        "/dashboard/": signed_in,  # a signed-in page: the session and the user come from the database
        "/hubs/lyon-faults/": signed_in,
    }
    api = ["/api/v1/hubs/", "/api/v1/applications/"]

    with (
        gunicorn(tmp_path, workers=1, threads=2, REDIS_URL="", DJANGO_CONN_MAX_AGE="60") as server,
        admin_connection() as admin,
    ):
        for path, cookies in pages.items():
            assert server.get(path, cookies=cookies).status_code == 200, path
        for path in api:
            assert server.get(path, headers=bearer(world.applicant_key)).status_code == 200, path
        outside = admin_connection("postgres")  # a database may not lock itself out
        try:
            outside.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            assert terminate_server_backends(admin) >= 1

            for path, cookies in pages.items():
                page = server.get(path, cookies=cookies)
                assert page.status_code == 503, (path, page.status_code, page.text[:300])
                assert "cannot reach its database" in page.text
                assert page.headers["Retry-After"] == "5"
            for path in api:
                response = server.get(path, headers=bearer(world.applicant_key))
                assert response.status_code == 503, (path, response.text[:300])
                assert response.json()["code"] == "unavailable"
            assert server.get("/readyz").status_code == 503
            assert server.get("/healthz").status_code == 200  # the process itself is alive
        finally:
            outside.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            outside.close()

        for path, cookies in pages.items():
            assert server.get(path, cookies=cookies).status_code == 200, path
        for path in api:
            assert server.get(path, headers=bearer(world.applicant_key)).status_code == 200, path
        assert server.get("/readyz").status_code == 200
