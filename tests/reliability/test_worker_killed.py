"""Fault 2: the Celery worker is SIGKILLed in the middle of 500 queued screenings, then restarted.

A real prefork worker (2 processes) on Redis, killed as a whole process group: no shutdown, no
acknowledgement, transactions cut where they stand. After a restart (and the beat sweeper for
the screenings the dead worker had taken), every application ends in exactly one final state,
and no allocation or ledger transaction exists twice.

What makes it hold: ``task_acks_late`` (a message is acknowledged only after its task ran) with
``task_reject_on_worker_lost``; a screening claims its round with a conditional UPDATE and
resumes a claimed round; the decision is one transaction guarded like a staff decision; a grant
has a unique idempotency key; and ``compute.tasks.resend_stalled_screenings`` re-sends what the
dead worker held (its unacknowledged messages would only return after the visibility timeout).
"""

from collections import Counter

import pytest
from django.utils import timezone

from compute.models import Application, AppStatus, ResourceRequest, ScreeningResult
from compute.tasks import _waiting_in_queue, resend_stalled_screenings, screen_application
from gigafactory import outbox
from gigafactory.models import AuditEvent

from .conftest import REQUEST, fast_lane_call
from .ledger_checks import assert_ledger_consistent, assert_one_grant_per_approval
from .stack import celery_queue, poll, require_postgres

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

A = AppStatus
QUEUED = 500
FUNDED = 300  # 300 are granted automatically; the budget is then empty and 200 go to staff
KILL_AFTER = 60
FINAL = (A.APPROVED, A.IN_REVIEW)


def _submitted_applications(world, call):
    """500 applications submitted (round 1) at once, as after a busy call deadline."""
    now = timezone.now()
    resource = call.eligible_resources.get()
    apps = Application.objects.bulk_create(
        Application(
            project=world.project,
            call=call,
            hub=world.hub,
            applicant=world.applicant,
            title=f"Screening under fire {i}",
            abstract="Fine-tuning an open model.",
            civilian_use=True,
            status=A.SUBMITTED,
            screening_round=1,
            submitted_at=now,
            requested_millicredits=REQUEST,
        )
        for i in range(QUEUED)
    )
    ResourceRequest.objects.bulk_create(ResourceRequest(application=a, resource=resource, gpu_hours=100) for a in apps)
    return [a.pk for a in apps]


def decided() -> int:
    return Application.objects.filter(status__in=FINAL).count()


def test_a_worker_killed_mid_queue_and_restarted_decides_every_application_once(world, tmp_path):
    require_postgres()
    call = fast_lane_call(world, budget=FUNDED * REQUEST)
    ids = _submitted_applications(world, call)

    with celery_queue(tmp_path, concurrency=2) as (start_worker, log):
        for pk in ids:
            screen_application.delay(pk, 1)
        worker = start_worker()
        poll(lambda: decided() >= KILL_AFTER, log=log)
        worker.kill()

        at_kill = Counter(Application.objects.values_list("status", flat=True))
        assert at_kill[A.SUBMITTED] > 0, at_kill  # killed in the middle, not after the end
        assert worker.process.returncode == -9  # killed, not shut down

        start_worker()
        poll(lambda: _waiting_in_queue(screen_application) == 0, log=log)
        # What the dead worker held: its claimed screenings and prefetched messages. The beat
        # sweeper sends them again (thresholds at 0 so the test does not wait for them).
        outbox.reset()
        resend_stalled_screenings(submitted_for=0, screening_for=0)
        poll(lambda: decided() == QUEUED, log=log)
        poll(lambda: _waiting_in_queue(screen_application) == 0, log=log)

    statuses = Counter(Application.objects.values_list("status", flat=True))
    assert statuses == {A.APPROVED: FUNDED, A.IN_REVIEW: QUEUED - FUNDED}, statuses
    # One screening per application: one "started" entry, each check recorded once, one decision.
    started = Counter(
        AuditEvent.objects.filter(action="application.screening_started").values_list("object_id", flat=True)
    )
    assert sorted(started) == sorted(str(pk) for pk in ids)
    assert set(started.values()) == {1}
    checks_per_app = Counter(ScreeningResult.objects.values_list("application_id", flat=True))
    assert set(checks_per_app) == set(ids)
    assert len(set(checks_per_app.values())) == 1
    decisions = Counter(
        AuditEvent.objects.filter(action__in=["application.approve", "application.send_to_review"]).values_list(
            "object_id", flat=True
        )
    )
    assert set(decisions.values()) == {1}
    assert len(decisions) == QUEUED
    assert_one_grant_per_approval()
    assert_ledger_consistent()
