"""Notifications travel through a real Celery worker on Redis, and delivery is safe to repeat."""

import pytest
from django.core import mail

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
