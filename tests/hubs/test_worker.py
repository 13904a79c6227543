"""Notifications travel through a real Celery worker on Redis, and delivery is safe to repeat."""

import pytest
from django.core import mail
from django.db import connection

from compute.tasks import screen_application
from hubs import services
from hubs.models import Notification
from hubs.tasks import send_notification_email
from tests.conftest import verified_user
from tests.worker import celery_worker, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_membership_request_is_emailed_to_staff_by_a_real_worker(hub, staff, tmp_path):
    applicant = verified_user(name="Wendy Worker")
    with celery_worker(tmp_path) as (_process, log):
        services.membership_request(user=applicant, hub=hub, motivation="Grid models")
        notification = Notification.objects.get(user=staff)
        wait_for(lambda: Notification.objects.filter(pk=notification.pk, emailed_at__isnull=False).exists(), log=log)
    assert "Wendy Worker asks to join" in log.read_text()


def test_delivering_a_notification_twice_sends_one_email(member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (notification,) = services.notify(users=[member], kind="test", title="Hello", dedupe_key="hello")
    assert len(mail.outbox) == 1
    assert send_notification_email(notification.pk) is False
    assert len(mail.outbox) == 1
    assert services.notify(users=[member], kind="test", title="Hello", dedupe_key="hello") == []


def test_many_notices_of_one_commit_are_delivered_once_each_and_mailed_by_one_task(
    member, staff, django_capture_on_commit_callbacks
):
    notices = [
        services.Notice((member.pk, staff.pk), "test", "First", dedupe_key="first"),
        services.Notice((member.pk,), "test", "First again", dedupe_key="first"),  # same key: not twice
        services.Notice((staff.pk,), "test", "Second", dedupe_key="second"),
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = services.notify_many(notices)
    assert sorted((n.user_id, n.title) for n in created) == sorted(
        [(member.pk, "First"), (staff.pk, "First"), (staff.pk, "Second")]
    )
    assert len(callbacks) == 1  # one e-mail task for the three
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == sorted(
        [
            (member.email, "[AI Gigafactory Network] First"),
            (staff.email, "[AI Gigafactory Network] First"),
            (staff.email, "[AI Gigafactory Network] Second"),
        ]
    )
    assert services.notify_many(notices) == []
    assert Notification.objects.count() == 3


def _other_sessions() -> set[tuple[int, object]]:
    """(pid, start) of the other sessions on the test database: the worker's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task(tmp_path, monkeypatch):
    # Celery's Django fixup would open a new connection for every task (about 5 ms each);
    # with CONN_MAX_AGE the worker keeps one, as a web process does between requests.
    monkeypatch.setenv("DJANGO_CONN_MAX_AGE", "60")
    with celery_worker(tmp_path) as (_process, log):
        screen_application.delay(10**9, 1)  # no such application: one query, "skipped"
        wait_for(lambda: log.read_text().count("succeeded") == 1, log=log)
        first = _other_sessions()
        for _ in range(20):
            screen_application.delay(10**9, 1)
        wait_for(lambda: log.read_text().count("succeeded") == 21, log=log)
        assert first, "the worker's connection is open between tasks"
        assert first == _other_sessions()  # the same session served the twenty tasks after it
