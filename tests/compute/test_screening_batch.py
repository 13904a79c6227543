"""Screening in batches: one run claims the submitted applications no other run holds, checks them
together, decides each by its track, and never lets one bad application hold up the others."""

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import RiskClass
from compute import screening, services
from compute.models import MILLI, Allocation, Application, AppStatus, ScreeningResult, Track
from gigafactory.models import AuditEvent
from tests.compliance.factories import AISystemFactory
from tests.services import require

from .factories import ApplicationFactory, CallFactory, ProjectFactory, budget_left, set_status

A = AppStatus
REQUEST = 100 * MILLI


@pytest.fixture
def project(hub, member):
    return ProjectFactory(hub=hub, pi=member)


def submitted(call, project, count, *, start=None, **fields):
    """``count`` applications submitted one second apart (the order of submission is the order of grants)."""
    start = start or timezone.now() - timedelta(minutes=5)
    apps = []
    for i in range(count):
        app = ApplicationFactory(call=call, project=project, applicant=project.pi, **fields)
        Application.objects.filter(pk=app.pk).update(submitted_at=start + timedelta(seconds=i))
        apps.append(set_status(app, A.SUBMITTED))
    return apps


def statuses(apps):
    by_pk = dict(Application.objects.filter(pk__in=[a.pk for a in apps]).values_list("pk", "status"))
    return [by_pk[a.pk] for a in apps]


def test_one_run_decides_every_waiting_application_and_their_own_runs_skip(hub, project):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)
    apps = submitted(call, project, 6)

    assert screening.screen_and_decide(application_id=apps[3].pk, screening_round=1) == "approved"

    assert statuses(apps) == [A.APPROVED] * 6
    assert [screening.screen_and_decide(application_id=a.pk, screening_round=1) for a in apps] == ["skipped"] * 6
    assert Allocation.objects.filter(application__in=apps).count() == 6
    assert budget_left(call) == 4 * REQUEST
    started = AuditEvent.objects.filter(action="application.screening_started")
    assert sorted(started.values_list("object_id", flat=True)) == sorted(str(a.pk) for a in apps)
    assert ScreeningResult.objects.filter(application__in=apps).count() == 6 * len(screening.checks())
    for app in apps:
        app.refresh_from_db()
        allocation = app.allocation
        assert allocation.slurm_account == f"gf-{allocation.pk}"
        assert app.granted_millicredits == REQUEST
        assert app.decided_at is not None


def test_a_budget_that_covers_only_some_grants_them_in_the_order_of_submission(hub, project, member, staff):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=3 * REQUEST)
    apps = submitted(call, project, 5)
    # The budget check runs per application (each sees 300 credits left); the grants then share them.

    screening.screen_and_decide(application_id=apps[4].pk, screening_round=1)

    assert statuses(apps) == [A.APPROVED] * 3 + [A.IN_REVIEW] * 2
    assert budget_left(call) == 0
    late = Application.objects.get(pk=apps[3].pk)
    assert late.decision_reason.startswith("Every screening check passed, but the automatic approval failed")
    assert "100 credits needed, 0 left" in late.decision_reason
    waiting = staff.notifications.filter(kind="application.waiting")
    assert waiting.count() == 2
    assert {n.dedupe_key for n in waiting} == {f"application.in_review:{a.pk}:1" for a in apps[3:]}
    approved = member.notifications.filter(kind="application.approved")
    assert sorted(n.title for n in approved) == sorted(f"'{a.title}' is approved: 100 credits" for a in apps[:3])


def test_a_batch_applies_each_calls_track(hub, project, member, staff):
    fast = CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)
    playground = CallFactory(
        hub=hub, track=Track.PLAYGROUND, playground_grant_millicredits=REQUEST, funded=10 * REQUEST
    )
    peer = CallFactory(hub=hub, track=Track.PEER_REVIEW, funded=10 * REQUEST)
    fast_ok, fast_bad = submitted(fast, project, 1) + submitted(fast, project, 1, civilian_use=False)
    play_ok, play_bad = submitted(playground, project, 1) + submitted(playground, project, 1, civilian_use=False)
    (peer_ok,) = submitted(peer, project, 1)
    (prohibited,) = submitted(fast, project, 1)
    AISystemFactory(hub=hub, risk_class=RiskClass.PROHIBITED).applications.add(prohibited)
    apps = [fast_ok, fast_bad, play_ok, play_bad, peer_ok, prohibited]

    screening.screen_and_decide(application_id=peer_ok.pk, screening_round=1)

    assert statuses(apps) == [A.APPROVED, A.IN_REVIEW, A.APPROVED, A.REJECTED, A.IN_REVIEW, A.REJECTED]
    assert Application.objects.get(pk=play_ok.pk).granted_millicredits == REQUEST
    assert budget_left(playground) == 9 * REQUEST
    assert budget_left(fast) == 9 * REQUEST
    assert "prohibited practice" in Application.objects.get(pk=prohibited.pk).decision_reason
    assert staff.notifications.get(dedupe_key=f"application.in_review:{peer_ok.pk}:1").title.endswith(
        "waits for you to assign reviewers"
    )
    rejected = member.notifications.filter(kind="application.rejected")
    assert {n.dedupe_key for n in rejected} == {
        f"application.rejected:{play_bad.pk}",
        f"application.rejected:{prohibited.pk}",
    }


def test_the_statements_of_a_batch_do_not_grow_with_its_size(hub, project):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=100 * REQUEST)
    counts = []
    for size in (3, 12):
        apps = submitted(call, project, size)
        with CaptureQueriesContext(connection) as queries:
            assert screening.screen_and_decide(application_id=apps[0].pk, screening_round=1) == "approved"
        assert statuses(apps) == [A.APPROVED] * size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 45, counts


@pytest.fixture
def poisoned(hub, project, monkeypatch):
    """Four submitted applications; a new check breaks on the first (the oldest submission)."""
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)
    poison, *good = submitted(call, project, 4)
    monkeypatch.setattr(screening, "_REGISTRY", dict(screening._REGISTRY))

    @screening.screening_check("fragile", "A check that breaks on one application")
    def fragile(app):
        if app.pk == poison.pk:
            raise ConnectionError("registry down for this one")
        return True, "fine"

    return poison, good


def test_a_check_that_fails_on_one_application_holds_up_only_that_one(poisoned):
    poison, good = poisoned
    # Its batch holds the poison (the oldest submission): the run falls back to its own application.
    assert screening.screen_and_decide(application_id=good[0].pk, screening_round=1) == "approved"
    assert statuses([poison, *good]) == [A.SUBMITTED, A.APPROVED, A.SUBMITTED, A.SUBMITTED]
    with pytest.raises(ConnectionError):
        screening.screen_and_decide(application_id=poison.pk, screening_round=1)
    for app in good[1:]:
        assert screening.screen_and_decide(application_id=app.pk, screening_round=1) == "approved"
    assert statuses([poison, *good]) == [A.SUBMITTED, A.APPROVED, A.APPROVED, A.APPROVED]
    assert not ScreeningResult.objects.filter(application=poison).exists()


@pytest.mark.django_db(transaction=True)
def test_an_application_another_run_holds_is_left_to_that_run(hub, member):
    require(connection.vendor == "postgresql", "PostgreSQL (row locks with SKIP LOCKED)")
    project = ProjectFactory(hub=hub, pi=member)
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)
    held, *free = submitted(call, project, 3)
    locked, release = threading.Event(), threading.Event()

    def other_run():
        with transaction.atomic():
            Application.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert locked.wait(10)
        # Neither waits for the lock: the held application is skipped, and a batch goes around it.
        assert screening.screen_and_decide(application_id=held.pk, screening_round=1) == "skipped"
        assert screening.screen_and_decide(application_id=free[0].pk, screening_round=1) == "approved"
        assert statuses([held, *free]) == [A.SUBMITTED, A.APPROVED, A.APPROVED]
    finally:
        release.set()
        thread.join()
    assert screening.screen_and_decide(application_id=held.pk, screening_round=1) == "approved"


def test_a_submission_kicks_a_worker_unless_a_kick_already_waits(
    hub, project, member, django_capture_on_commit_callbacks
):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)
    first, second = (ApplicationFactory(call=call, project=project, applicant=member) for _ in range(2))
    cache.set(screening.kick_key(), "1", 30)  # a kick is in the queue, not taken by a worker yet
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=first, acting_user=member)
    assert statuses([first]) == [A.SUBMITTED]  # no second kick: the waiting one will take it

    assert screening.screen_waiting() == 1  # what the waiting kick runs, once a worker takes it
    assert statuses([first]) == [A.APPROVED]
    assert cache.get(screening.kick_key()) is None
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=second, acting_user=member)
    assert statuses([second]) == [A.APPROVED]  # kicked and screened (in-process in tests)


def test_waiting_applications_are_screened_around_one_that_breaks_a_check(poisoned):
    poison, good = poisoned
    assert screening.screen_waiting() == 3
    assert statuses([poison, *good]) == [A.SUBMITTED, A.APPROVED, A.APPROVED, A.APPROVED]
