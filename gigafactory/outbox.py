"""Hand Celery work to the broker after commit, without ever failing or stalling the request.

The database row is the outbox: a service writes the state that says work is owed (an
application ``submitted`` for a screening round, a notification not yet e-mailed) in its
transaction, and ``send_on_commit`` asks the broker once the transaction commits. If the
broker is away, the request still succeeds: the send is logged and skipped, and a periodic
sweeper (e.g. ``compute.tasks.resend_stalled_screenings``) finds the rows whose work is still
owed and sends it again. Tasks are safe to run twice, so a late duplicate changes nothing.

While the broker is known to be down (a send failed less than ``BROKER_DOWN_SECONDS`` ago)
this process does not try again at all, so a burst of requests during an outage does not
wait on connection attempts one by one.
"""

import logging
import time
from functools import partial

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)

# One quick retry, then give up: the sweeper re-sends, the request must not wait on the broker.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
BROKER_DOWN_SECONDS = 15.0

_broker_down_until = 0.0


def broker_known_down() -> bool:
    return time.monotonic() < _broker_down_until


def _mark_broker_down() -> None:
    global _broker_down_until
    _broker_down_until = time.monotonic() + BROKER_DOWN_SECONDS


def reset() -> None:
    """Forget a past failure (tests; a process that knows the broker is back)."""
    global _broker_down_until
    _broker_down_until = 0.0


def send(task, *args, **kwargs) -> bool:
    """Publish ``task(*args, **kwargs)`` now; ``False`` (and a warning) if the broker is away."""
    eager = task.app.conf.task_always_eager
    if not eager and broker_known_down():
        log.warning("Broker down: %s%s not sent now; the sweeper will send it.", task.name, args)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except (BrokerError, ConnectionError, TimeoutError) as exc:
        if eager:  # in-process tasks: an error is the task's own, not the broker's
            raise
        _mark_broker_down()
        log.warning("Broker unreachable (%s): %s%s not sent; the sweeper will send it.", exc, task.name, args)
        return False
    return True


def send_on_commit(task, *args, **kwargs) -> None:
    """``send`` once the current transaction commits (right away outside a transaction)."""
    transaction.on_commit(partial(send, task, *args, **kwargs))
