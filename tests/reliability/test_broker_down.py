"""Fault 3: the broker (Redis) is away while 100 applications are submitted.

The portal runs under gunicorn with ``REDIS_URL`` pointing at a closed port, so the broker and
the cache are both gone. Every submission is saved and answered 200 without waiting on the
broker (``gigafactory.outbox``). Once Redis is back, the beat sweeper
``compute.tasks.resend_stalled_screenings`` sends the owed screenings and a real worker
screens each of them exactly once.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from compute.models import Application, AppStatus, ScreeningResult
from compute.screening import checks
from compute.tasks import resend_stalled_screenings
from gigafactory import outbox
from gigafactory.models import AuditEvent
from tests.compute.factories import ApplicationFactory

from .conftest import REQUEST, bearer, fast_lane_call
from .ledger_checks import assert_ledger_consistent, assert_one_grant_per_approval
from .stack import CLOSED_PORT_REDIS, celery_queue, gunicorn, poll, require_postgres

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SUBMISSIONS = 100
A = AppStatus


def test_submissions_survive_a_broker_outage_and_are_screened_once_it_is_back(world, tmp_path):
    require_postgres()
    call = fast_lane_call(world, budget=60 * REQUEST)  # 60 are granted, 40 go to staff
    ids = [ApplicationFactory(call=call, project=world.project).pk for _ in range(SUBMISSIONS)]

    with gunicorn(tmp_path, workers=2, threads=4, REDIS_URL=CLOSED_PORT_REDIS) as server:
        assert server.get("/readyz").status_code == 503  # the probe sees the broker is away

        def submit(pk):
            return server.post(f"/api/v1/applications/{pk}/submit/", headers=bearer(world.applicant_key))

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(submit, ids))
        log = server.log.read_text()

    assert [r.status_code for r in responses] == [200] * SUBMISSIONS, [r.text[:300] for r in responses[:3]]
    assert all(r.json()["status"] == A.SUBMITTED for r in responses)
    assert "the sweeper will send it" in log
    # Saved, with their audit trail, and nothing screened yet: no message reached a worker.
    assert Application.objects.filter(pk__in=ids, status=A.SUBMITTED).count() == SUBMISSIONS
    assert AuditEvent.objects.filter(action="application.submit").count() == SUBMISSIONS
    assert not ScreeningResult.objects.exists()

    # Redis is back: a worker runs, and the sweeper (beat, every minute) re-sends what is owed.
    assert settings.CELERY_BEAT_SCHEDULE["resend-stalled-screenings"]["task"] == resend_stalled_screenings.name
    outbox.reset()
    with celery_queue(tmp_path) as (start_worker, worker_log):
        start_worker()
        assert resend_stalled_screenings(submitted_for=0) == SUBMISSIONS
        poll(
            lambda: not Application.objects.filter(status__in=[A.SUBMITTED, A.SCREENING]).exists(),
            log=worker_log,
        )
        # A second sweep finds nothing owed: nothing is screened twice.
        assert resend_stalled_screenings(submitted_for=0) == 0

    assert Application.objects.filter(status=A.APPROVED).count() == 60
    assert Application.objects.filter(status=A.IN_REVIEW).count() == 40
    per_application = Counter(ScreeningResult.objects.values_list("application_id", "round", "check_key"))
    assert max(per_application.values()) == 1  # no check recorded twice
    results = Counter(app for app, _round, _key in per_application)
    assert set(results) == set(ids)  # every application screened, each with the full set of checks
    assert len(set(results.values())) == 1
    assert min(results.values()) >= len(checks())
    assert AuditEvent.objects.filter(action="application.screening_started").count() == SUBMISSIONS
    assert_one_grant_per_approval()
    assert_ledger_consistent()
