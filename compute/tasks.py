"""Compute tasks. Each takes ids, re-reads, calls one service and is safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import ChannelError

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def screen_application(application_id: int, screening_round: int) -> str:
    """Run the screening checks of one submission round and apply the track's decision rule."""
    from .screening import screen_and_decide

    return screen_and_decide(application_id=application_id, screening_round=screening_round)


@shared_task(acks_late=True)
def screen_submitted() -> int:
    """Screen and decide every submitted application, a batch at a time (sent by ``screening.kick``)."""
    from .screening import screen_waiting

    return screen_waiting()


@shared_task
def expire_allocations() -> int:
    """Daily: expire allocations past their end date and return unused credits to the call budget."""
    from .usage import allocations_expire_due

    return allocations_expire_due()


def _waiting_in_queue(task) -> int:
    """Messages waiting in the queue ``task`` is sent to (0 when eager: there is no queue)."""
    app = task.app
    if app.conf.task_always_eager:
        return 0
    queue = (app.amqp.router.route({}, task.name).get("queue") or app.amqp.default_queue).name
    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # Redis drops an empty list, so an empty queue "does not exist"
            return 0


@shared_task
def resend_stalled_screenings(submitted_for: int = 120, screening_for: int = 900, limit: int = 5000) -> int:
    """Every minute (beat): send again the screenings whose message was lost. Returns how many.

    The application rows are the outbox (``gigafactory.outbox``):

    - ``submitted`` for more than ``submitted_for`` seconds while the queue is empty: its message
      never reached the broker (it was down when the request committed) or died with it. While
      messages wait in the queue they may be these, so nothing is re-sent then (no duplicates
      during a healthy backlog);
    - ``screening`` for more than ``screening_for`` seconds: the worker that claimed it died
      (SIGKILL, out of memory) before deciding. Its unacknowledged message only comes back after
      the broker's visibility timeout; ``screen_and_decide`` resumes a claimed round.

    A screening run twice decides once, so a message that was only late costs one "skipped".
    """
    from gigafactory import outbox

    from .models import Application, AppStatus

    now = timezone.now()
    stalled = Application.objects.filter(
        status=AppStatus.SCREENING, updated_at__lte=now - timedelta(seconds=screening_for)
    )
    if _waiting_in_queue(screen_application) == 0:
        stalled = stalled | Application.objects.filter(
            status=AppStatus.SUBMITTED, updated_at__lte=now - timedelta(seconds=submitted_for)
        )
    sent = 0
    for pk, screening_round in stalled.order_by("updated_at", "pk").values_list("pk", "screening_round")[:limit]:
        if not outbox.send(screen_application, pk, screening_round):
            break  # the broker is still away: the next sweep tries again
        sent += 1
    if sent:
        log.warning("Re-sent %s stalled screening(s)", sent)
    return sent
