"""Delivery tasks. Each takes ids, re-reads, and is safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection, send_mail
from django.db import transaction
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

    Each item is claimed (``emailed_at``) before it is sent, so a second run sends nothing twice.
    If sending fails, the items not sent yet are released and the task retries.
    """
    with transaction.atomic():
        rows = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "user__profile")
            .filter(pk__in=notification_ids, emailed_at__isnull=True)
            .order_by("pk")
        )
        due = [n for n in rows if n.user.is_active and _wants_email(n.user)]
        Notification.objects.filter(pk__in=[n.pk for n in due]).update(emailed_at=timezone.now())
    sent = 0
    try:
        with get_connection() as connection:
            for notification in due:
                context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
                message = EmailMessage(
                    subject=f"[AI Gigafactory Network] {notification.title}",
                    body=render_to_string("email/notification.txt", context),
                    to=[notification.user.email],
                    connection=connection,
                )
                message.send()
                sent += 1
    except OSError:
        Notification.objects.filter(pk__in=[n.pk for n in due[sent:]]).update(emailed_at=None)
        raise
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
