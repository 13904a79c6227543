"""Fault 5: a webhook receiver is down for a while; deliveries retry and arrive once it is back, each once.

A real Celery worker (prefork, 2 processes, Redis, PostgreSQL) makes every attempt. The receiver is
a real HTTP server on 127.0.0.1 that is not there at first (connection refused), then answers
503 (down for maintenance), then is back. Retries live in the database (``next_attempt_at``, with
backoff) and the beat task ``deliver_due`` queues what is due. Here the test plays the beat, and
moves the clock on by making the waiting deliveries due now instead of waiting 30 s, then 1 min.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from gigafactory.events import emit
from hubs.webhooks.models import Delivery, DeliveryStatus, EndpointStatus
from hubs.webhooks.tasks import deliver_due
from tests.webhooks.conftest import make_endpoint

from .stack import celery_queue, free_port, pause, poll, require_postgres

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EVENTS = 3


class Receiver:
    """Answers ``status`` to every POST and records the delivery id of each request."""

    def __init__(self, port: int):
        self.status = 503
        self.requests: list[tuple[str, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.status
                receiver.requests.append((self.headers["X-Gigafactory-Delivery"], status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[str]:
        return [delivery for delivery, status in self.requests if status < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _attempts(n):
    """Every delivery has been attempted ``n`` times, and each attempt is recorded.

    An attempt is claimed (``attempt_count`` goes up) before the POST and recorded after it, so
    the count alone can run ahead of the attempts' rows.
    """

    def done():
        rows = Delivery.objects.annotate(recorded=Count("attempts")).values_list("attempt_count", "recorded")
        return set(rows) == {(n, n)}

    return done


def _beat_tick():
    """What the beat does every minute, after the backoff has passed."""
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
    deliver_due.delay()


def test_deliveries_retry_while_the_receiver_is_down_and_arrive_once_each_when_it_is_back(world, tmp_path):
    require_postgres()
    port = free_port()  # nothing listens here yet: the receiver is down
    endpoint, _secret = make_endpoint(hub=world.hub, acting_user=world.staff, url=f"http://127.0.0.1:{port}/hooks")
    receiver = None
    with celery_queue(tmp_path, concurrency=2) as (worker, log):
        worker()
        with transaction.atomic():
            for i in range(EVENTS):
                emit("application.submitted", hub=world.hub, payload={"application": i, "title": f"Application {i}"})
        poll(_attempts(1), timeout=120, log=log)
        assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
        first = Delivery.objects.first().attempts.get(number=1)
        assert first.status_code is None
        assert first.error.startswith("ConnectionError")  # nothing listening: refused

        receiver = Receiver(port)  # up again, but answering 503
        try:
            _beat_tick()
            poll(_attempts(2), timeout=120, log=log)
            assert receiver.accepted() == []
            assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}

            receiver.status = 200  # back
            _beat_tick()
            deliver_due.delay()  # a second tick right behind the first: nothing is sent twice
            poll(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == EVENTS, log=log)
            _beat_tick()  # and later ticks find nothing due
            pause(2)
        finally:
            receiver.close()

    deliveries = list(Delivery.objects.order_by("pk"))
    assert sorted(receiver.accepted()) == sorted(str(d.pk) for d in deliveries)  # each arrived once
    assert len(receiver.requests) == 2 * EVENTS  # one 503 and one 200 each
    for delivery in deliveries:
        assert delivery.status == DeliveryStatus.SUCCEEDED
        assert list(delivery.attempts.order_by("number").values_list("status_code", "succeeded")) == [
            (None, False),
            (503, False),
            (200, True),
        ]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0
    assert endpoint.status == EndpointStatus.ACTIVE
