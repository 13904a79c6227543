"""Fault 1: 32 staff approvals race over HTTP for a call budget that covers 10.

Real gunicorn (2 processes x 8 threads) on PostgreSQL: the requests really overlap. Exactly 10
are granted (200), the other 22 are refused with 409 and change nothing; the budget ends at
zero and every ledger transaction is balanced.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from compute.models import Allocation, Application, AppStatus, Transaction, TransactionKind
from tests.compute.factories import ApplicationFactory, budget_left, set_status

from .conftest import REQUEST, bearer, fast_lane_call
from .ledger_checks import assert_ledger_consistent, assert_one_grant_per_approval
from .stack import gunicorn, require_postgres

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RACERS = 32
FITS = 10


def test_32_concurrent_approvals_for_a_budget_of_10_grant_exactly_10(world, tmp_path):
    require_postgres()
    call = fast_lane_call(world, budget=FITS * REQUEST)
    ids = [
        set_status(ApplicationFactory(call=call, project=world.project), AppStatus.IN_REVIEW).pk for _ in range(RACERS)
    ]
    barrier = threading.Barrier(RACERS)

    with gunicorn(tmp_path, workers=2, threads=8, REDIS_URL="") as server:

        def approve(pk):
            barrier.wait(timeout=30)
            return server.post(f"/api/v1/applications/{pk}/approve/", json={}, headers=bearer(world.staff_key))

        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            responses = list(pool.map(approve, ids))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * FITS + [409] * (RACERS - FITS), [(r.status_code, r.text[:200]) for r in responses]
    refused = [r.json() for r in responses if r.status_code == 409]
    assert all("budget cannot cover" in body["detail"] for body in refused), refused
    granted = {r.json()["id"] for r in responses if r.status_code == 200}
    assert set(Application.objects.filter(status=AppStatus.APPROVED).values_list("pk", flat=True)) == granted
    assert Application.objects.filter(status=AppStatus.IN_REVIEW).count() == RACERS - FITS
    assert Allocation.objects.count() == FITS
    assert Transaction.objects.filter(kind=TransactionKind.GRANT).count() == FITS
    assert budget_left(call) == 0
    assert_one_grant_per_approval()
    assert_ledger_consistent()
