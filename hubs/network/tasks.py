"""Network news tasks. Each takes ids (or a serialised event), re-reads, and is safe to run twice."""

from celery import shared_task
from django.utils import timezone

# Digests go out once a day, from this local hour on (the beat task runs hourly).
DIGEST_HOUR = 7


@shared_task(acks_late=True)
def fan_out_news(item_id: int) -> int:
    """Deliver an item to its subscribers (inbox), then e-mail the immediate ones."""
    from .services import news_fan_out

    count = news_fan_out(item_id=item_id)
    send_news_emails.delay(item_id)
    return count


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_news_emails(item_id: int) -> int:
    from .services import news_send_immediate

    return news_send_immediate(item_id=item_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_daily_digests() -> int:
    """Hourly (beat): from DIGEST_HOUR on, send each person's digest of the day, once."""
    from .services import digests_send_daily

    if timezone.localtime().hour < DIGEST_HOUR:
        return 0
    return digests_send_daily()


@shared_task
def sweep() -> dict:
    """Every 5 minutes (beat): announce calls whose window has begun (once per call), and send
    again fan-outs and e-mails whose message was lost (the broker was away)."""
    from .services import calls_announce_opened, stalled_email_item_ids, stalled_item_ids

    announced = calls_announce_opened()
    stalled = stalled_item_ids()
    for item_id in stalled:
        fan_out_news.delay(item_id)
    unsent = stalled_email_item_ids()
    for item_id in unsent:
        send_news_emails.delay(item_id)
    return {"calls_announced": announced, "fan_outs_resent": len(stalled), "emails_resent": len(unsent)}
