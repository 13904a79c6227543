"""Delivery tasks. Each takes ids, re-reads, and is safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invitation, Notification


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one inbox item. The conditional UPDATE claims it, so a second run sends nothing."""
    notification = Notification.objects.select_related("user", "user__profile").filter(pk=notification_id).first()
    if notification is None or not notification.user.is_active:
        return False
    profile = getattr(notification.user, "profile", None)
    if profile is not None and not profile.email_notifications:
        return False
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
    try:
        send_mail(
            subject=f"[AI Gigafactory Network] {notification.title}",
            message=render_to_string("email/notification.txt", context),
            from_email=None,
            recipient_list=[notification.user.email],
        )
    except OSError:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail the inbox items of one commit, one by one. Returns how many were sent.

    Safe to run again after a failure: the items already sent are claimed and skipped.
    """
    return sum(send_notification_email.run(pk) for pk in notification_ids)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_invitation_email(invitation_id: int) -> bool:
    from .services import invitation_url

    invitation = Invitation.objects.select_related("hub", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_open:
        return False
    context = {"invitation": invitation, "url": invitation_url(invitation), "site_url": settings.SITE_URL}
    send_mail(
        subject=f"[AI Gigafactory Network] You are invited to join {invitation.hub}",
        message=render_to_string("email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True
