"""Delivery tasks. Each takes ids, re-reads, and is safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection, send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invitation, Notification


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one inbox item; ``False`` if it was already sent (or its user does not want it)."""
    return send_notification_emails.run([notification_id]) == 1


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail the inbox items of one commit over one mail connection. Returns how many were sent.

    Each item is claimed (``emailed_at``, a conditional UPDATE) before it is sent, so a second run
    sends nothing twice. If sending fails, that item is released and the task retries.
    """
    rows = (
        Notification.objects.select_related("user", "user__profile")
        .filter(pk__in=notification_ids, emailed_at__isnull=True)
        .order_by("pk")
    )
    sent, connection = 0, None
    try:
        for notification in rows:
            if not (notification.user.is_active and _wants_email(notification.user)):
                continue
            claim = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True)
            if not claim.update(emailed_at=timezone.now()):
                continue  # another run of this task sent it
            context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
            try:
                if connection is None:  # opened for the first message only: often there is none
                    connection = get_connection()
                    connection.open()
                EmailMessage(
                    subject=f"[AI Gigafactory Network] {notification.title}",
                    body=render_to_string("email/notification.txt", context),
                    to=[notification.user.email],
                    connection=connection,
                ).send()
            except OSError:
                Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
                raise
            sent += 1
    finally:
        if connection is not None:
            connection.close()
    return sent


def _wants_email(user) -> bool:
    profile = getattr(user, "profile", None)
    return profile is None or profile.email_notifications


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
