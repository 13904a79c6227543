"""Approvals racing for one call budget, on PostgreSQL with real transactions and threads.

SQLite serialises writers, so these tests need PostgreSQL: they skip on a laptop without it
and fail in CI (GF_REQUIRE_SERVICES=1) if it is missing.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from compute import ledger, screening, services
from compute.models import MILLI, Account, Allocation, Application, AppStatus, Track, Transaction, TransactionKind
from gigafactory.errors import InvalidTransition
from hubs.models import Role, User
from tests.factories import HubFactory, MembershipFactory, UserFactory
from tests.services import require

from .factories import ApplicationFactory, CallFactory, ProjectFactory, budget_left, set_status

A = AppStatus
REQUEST = 100 * MILLI
THREADS = 20

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres():
    require(connection.vendor == "postgresql", "PostgreSQL")


def in_threads(n, work):
    """Run ``work(i)`` in ``n`` threads released together; return each result or exception."""
    barrier = threading.Barrier(n)

    def one(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def assert_ledger_consistent():
    assert not ledger.unbalanced_transactions().exists()
    for account in Account.objects.all():
        assert account.balance == ledger.balance_from_entries(account), account
        if account.kind in ("call_budget", "allocation"):
            assert account.balance >= 0


@pytest.fixture
def setup():
    hub = HubFactory(slug="race")
    staff = UserFactory()
    MembershipFactory(user=staff, hub=hub, role=Role.STAFF)
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=7 * REQUEST)
    project = ProjectFactory(hub=hub)
    return hub, staff, call, project


def test_twenty_approvals_against_a_budget_for_seven(setup):
    _hub, staff, call, project = setup
    ids = [set_status(ApplicationFactory(call=call, project=project), A.IN_REVIEW).pk for _ in range(THREADS)]

    def approve(i):
        return services.application_approve(
            application=Application.objects.get(pk=ids[i]), acting_user=User.objects.get(pk=staff.pk)
        )

    outcomes = in_threads(THREADS, approve)
    approved = [o for o in outcomes if isinstance(o, Application)]
    refused = [o for o in outcomes if isinstance(o, services.InsufficientBudget)]
    assert len(approved) == 7, outcomes
    assert len(refused) == THREADS - 7, outcomes
    assert Application.objects.filter(status=A.APPROVED).count() == 7
    assert Application.objects.filter(status=A.IN_REVIEW).count() == THREADS - 7
    assert Allocation.objects.count() == 7
    assert Transaction.objects.filter(kind=TransactionKind.GRANT).count() == 7
    assert budget_left(call) == 0
    assert_ledger_consistent()


def test_the_same_application_approved_by_many_at_once_is_granted_once(setup):
    _hub, staff, call, project = setup
    second = UserFactory()
    MembershipFactory(user=second, hub=call.hub, role=Role.ADMIN)
    app_id = set_status(ApplicationFactory(call=call, project=project), A.IN_REVIEW).pk
    deciders = [staff.pk, second.pk]

    def approve(i):
        return services.application_approve(
            application=Application.objects.get(pk=app_id), acting_user=User.objects.get(pk=deciders[i % 2])
        )

    outcomes = in_threads(10, approve)
    assert sum(isinstance(o, Application) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, InvalidTransition) for o in outcomes) == 9, outcomes
    assert Allocation.objects.count() == 1
    assert budget_left(call) == 6 * REQUEST
    assert_ledger_consistent()


def test_a_screening_task_delivered_many_times_at_once_decides_once(setup):
    hub, _staff, call, _project = setup
    applicant = UserFactory()
    MembershipFactory(user=applicant, hub=hub)
    applicant.emailaddress_set.create(email=applicant.email, verified=True, primary=True)
    app_id = set_status(ApplicationFactory(call=call, project=ProjectFactory(hub=hub, pi=applicant)), A.SUBMITTED).pk

    outcomes = in_threads(8, lambda i: screening.screen_and_decide(application_id=app_id, screening_round=1))
    assert sorted(map(str, outcomes)) == ["approved"] + ["skipped"] * 7, outcomes
    assert Application.objects.get(pk=app_id).screening_results.count() == len(screening.checks())
    assert Allocation.objects.count() == 1
    assert budget_left(call) == 6 * REQUEST
    assert_ledger_consistent()
