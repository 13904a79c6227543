"""Webhooks against a real HTTP receiver on 127.0.0.1: signing, retries, disabling, scope."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gigafactory import events
from gigafactory.audit import audit_trail_for
from gigafactory.events import Event, emit
from hubs.models import Notification
from hubs.services import partner_system_create
from hubs.webhooks import services, signing
from hubs.webhooks.models import Delivery, DeliveryStatus, Endpoint, EndpointScope, EndpointStatus

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def _emit(event_type, hub, captured, **payload):
    with captured(execute=True), transaction.atomic():
        return emit(event_type, hub=hub, payload=payload or {"application": 1, "title": "Radiology model"})


def test_an_event_reaches_the_receiver_signed_and_the_documented_check_accepts_it(
    hub, staff, receiver, verify_signature, django_capture_on_commit_callbacks
):
    endpoint, secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    event = _emit("application.submitted", hub, django_capture_on_commit_callbacks, application=7, title="Scans")

    (request,) = receiver.requests
    headers = request.headers
    assert headers["X-Gigafactory-Event"] == "application.submitted"
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert headers["X-Gigafactory-Delivery"] == str(delivery.pk)
    assert headers["X-Gigafactory-Event-Id"] == event.id
    assert headers["X-Gigafactory-Signature"].startswith("v1=")
    assert request.json["type"] == "application.submitted"
    assert request.json["data"] == {"application": 7, "title": "Scans"}
    assert request.json["hub"]["slug"] == hub.slug
    assert verify_signature(secret, headers, request.body)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts.get().status_code == 200


def test_a_tampered_body_a_wrong_secret_or_an_old_timestamp_fail_verification(
    hub, staff, receiver, verify_signature, django_capture_on_commit_callbacks
):
    _endpoint, secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    (request,) = receiver.requests
    headers, body = request.headers, request.body
    timestamp = int(headers["X-Gigafactory-Timestamp"])

    assert verify_signature(secret, headers, body, now=timestamp + 299)
    assert not verify_signature(secret, headers, body.replace(b"Radiology", b"Radiolog1"))
    assert not verify_signature("whsec_not-the-secret", headers, body)
    assert not verify_signature(secret, headers, body, now=timestamp + 301)  # a replay, six minutes later
    assert not verify_signature(secret, headers | {"X-Gigafactory-Signature": "v0=abc"}, body)
    forged = headers | {"X-Gigafactory-Timestamp": str(timestamp + 600)}  # a fresher timestamp, same signature
    assert not verify_signature(secret, forged, body, now=timestamp + 600)


def test_a_receiver_that_fails_then_recovers_gets_the_event_exactly_once_after_retries(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    receiver.script = [500, 503]
    endpoint, _secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    first_retry = delivery.next_attempt_at
    assert first_retry - delivery.attempts.get().started_at == timedelta(seconds=30)

    assert services.attempt_delivery(delivery.pk) is None  # not due yet: nothing is sent
    assert services.attempt_delivery(delivery.pk, now=first_retry) is False
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - first_retry == timedelta(minutes=1)  # the pause doubles
    assert services.attempt_delivery(delivery.pk, now=delivery.next_attempt_at) is True
    assert services.attempt_delivery(delivery.pk, now=delivery.next_attempt_at + timedelta(hours=1)) is None

    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    assert len(receiver.accepted) == 1
    assert {r.headers["X-Gigafactory-Delivery"] for r in receiver.requests} == {str(delivery.pk)}
    assert len({r.body for r in receiver.requests}) == 1  # the same body on every attempt
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert list(delivery.attempts.order_by("number").values_list("status_code", "succeeded")) == [
        (500, False),
        (503, False),
        (200, True),
    ]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_an_unreachable_receiver_is_logged_with_its_error(hub, staff, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url="http://127.0.0.1:9/nobody-listens")
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    attempt = Delivery.objects.get(endpoint=endpoint).attempts.get()
    assert attempt.status_code is None
    assert "ConnectionError" in attempt.error


def test_an_endpoint_failing_again_and_again_is_disabled_and_its_owner_told(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    receiver.default = 500
    partner = partner_system_create(hub=hub, name="HPC bridge", contact_email="ops@hpc.example.org", acting_user=staff)
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, partner=partner)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(services.DISABLE_AFTER_FAILURES):
            event = Event(type="application.submitted", hub_id=hub.pk, payload={"application": n})
            with transaction.atomic():
                Delivery.objects.filter(endpoint=endpoint).update(next_attempt_at=None, status=DeliveryStatus.FAILED)
            services.deliveries_create_for_event(event)
            delivery = Delivery.objects.get(event_id=event.id)
            Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=start)
            result = services.attempt_delivery(delivery.pk, now=start + timedelta(minutes=10 * n))
            assert result is False
            endpoint.refresh_from_db()
            if n < services.DISABLE_AFTER_FAILURES - 1:
                assert endpoint.status == EndpointStatus.ACTIVE

    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.DISABLED
    assert "10 attempts in a row failed" in endpoint.disabled_reason
    told = Notification.objects.get(user=staff, kind="webhook.disabled")
    assert endpoint.url in told.title
    assert told.url == endpoint.get_absolute_url()
    subjects = {(m.to[0], m.subject) for m in mail.outbox}
    assert (staff.email, f"[AI Gigafactory Network] {told.title}") in subjects
    assert ("ops@hpc.example.org", f"[AI Gigafactory Network] {told.title}") in subjects

    # Disabled: nothing more is sent, not even what is due, until someone enables it again.
    sent_before = len(receiver.requests)
    pending = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).first()
    assert services.attempt_delivery(pending.pk, now=start + timedelta(days=1)) is None
    assert services.due_delivery_ids(now=start + timedelta(days=1)) == []
    assert len(receiver.requests) == sent_before

    receiver.default = 200
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_enable(endpoint=endpoint, acting_user=staff)
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ACTIVE
    assert endpoint.consecutive_failures == 0
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.SUCCEEDED


def test_a_short_burst_of_failures_does_not_disable_an_endpoint(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    receiver.default = 500
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(services.DISABLE_AFTER_FAILURES + 2):
            services.deliveries_create_for_event(
                Event(type="application.submitted", hub_id=hub.pk, payload={"application": n})
            )
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == services.DISABLE_AFTER_FAILURES + 2
    assert endpoint.status == EndpointStatus.ACTIVE  # all within a minute: an outage, not a dead receiver


def test_a_delivery_failing_for_24_hours_gives_up_and_disables_the_endpoint(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    receiver.default = 502
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        while delivery.status == DeliveryStatus.PENDING:
            # Reset the streak so that only the 24-hour rule can disable it.
            Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
            services.attempt_delivery(delivery.pk, now=delivery.next_attempt_at)
            delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert 10 <= delivery.attempt_count <= 14
    last = delivery.attempts.order_by("-number").first()
    assert last.started_at <= delivery.retry_until
    assert delivery.retry_until - delivery.created_at <= timedelta(hours=24, seconds=5)
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.DISABLED
    assert "24 hours" in endpoint.disabled_reason
    assert Notification.objects.filter(user=staff, kind="webhook.disabled").count() == 1


def test_an_event_fanned_out_twice_is_delivered_once(hub, staff, receiver, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    event = Event(type="application.submitted", hub_id=hub.pk, payload={"application": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_create_for_event(event) == 1
        assert services.deliveries_create_for_event(event) == 1
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    assert len(receiver.requests) == 1


def test_endpoints_receive_only_their_hubs_events_and_public_news_when_network_scoped(
    hub, other_hub, staff, other_staff, receiver, django_capture_on_commit_callbacks
):
    own, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url + "/own", event_types=["*"])
    other_hub_only, _ = make_endpoint(
        hub=other_hub, acting_user=other_staff, url=receiver.url + "/b", event_types=["*"]
    )
    other_network, _ = make_endpoint(
        hub=other_hub,
        acting_user=other_staff,
        url=receiver.url + "/net",
        event_types=["*"],
        scope=EndpointScope.NETWORK,
    )
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    _emit("call.opened", hub, django_capture_on_commit_callbacks, call=3, title="Open call")

    assert sorted(Delivery.objects.filter(endpoint=own).values_list("event_type", flat=True)) == [
        "application.submitted",
        "call.opened",
    ]
    assert not Delivery.objects.filter(endpoint=other_hub_only).exists()
    assert list(Delivery.objects.filter(endpoint=other_network).values_list("event_type", flat=True)) == ["call.opened"]
    assert sorted(r.path for r in receiver.requests) == ["/hooks/net", "/hooks/own", "/hooks/own"]


def test_endpoints_get_only_the_event_types_they_chose(hub, staff, receiver, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, event_types=["allocation.expired"])
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    assert not Delivery.objects.filter(endpoint=endpoint).exists()
    assert receiver.requests == []


def test_staff_redeliver_a_delivered_event_with_the_same_delivery_id(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    _emit("application.submitted", hub, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_redeliver(delivery=delivery, acting_user=staff)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[1].headers["X-Gigafactory-Delivery"] == str(delivery.pk)
    latest = delivery.attempts.order_by("-number").first()
    assert latest.requested_by == staff
    assert latest.succeeded
    assert audit_trail_for(delivery).filter(action="webhook.redelivered").exists()


def test_a_test_event_is_sent_as_a_ping(hub, staff, receiver, verify_signature, django_capture_on_commit_callbacks):
    endpoint, secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(endpoint=endpoint, acting_user=staff)
    (request,) = receiver.requests
    assert request.json["type"] == "ping"
    assert verify_signature(secret, request.headers, request.body)


def test_the_secret_is_encrypted_at_rest_and_never_in_the_audit_trail(hub, staff, receiver):
    endpoint, secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    endpoint.refresh_from_db()
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert secret not in endpoint.secret_encrypted
    assert signing.decrypt(endpoint.secret_encrypted) == secret
    assert endpoint.masked_secret.endswith(secret[-4:])
    for event in audit_trail_for(endpoint):
        assert secret not in json.dumps(event.after) + json.dumps(event.before)

    _endpoint, rotated = services.endpoint_rotate_secret(endpoint=endpoint, acting_user=staff)
    endpoint.refresh_from_db()
    assert rotated != secret
    assert signing.decrypt(endpoint.secret_encrypted) == rotated


def test_bad_input_names_the_field_and_writes_nothing(hub, staff):
    with pytest.raises(ValidationError) as exc:
        services.endpoint_create(
            hub=hub, url="ftp://example.org/x", event_types=["nope.event"], scope="galaxy", acting_user=staff
        )
    assert set(exc.value.message_dict) == {"url", "event_types", "scope"}
    assert "nope.event" in exc.value.message_dict["event_types"][0]
    with pytest.raises(ValidationError) as exc:
        services.endpoint_create(hub=hub, url="https://example.org/x", event_types=[], acting_user=staff)
    assert "event_types" in exc.value.message_dict
    assert not Endpoint.objects.exists()


def test_private_addresses_are_refused_when_the_setting_says_so(hub, staff, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    for url in ("http://127.0.0.1:8000/hook", "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/"):
        with pytest.raises(ValidationError) as exc:
            services.endpoint_create(hub=hub, url=url, event_types=["*"], acting_user=staff)
        assert "private" in exc.value.message_dict["url"][0]
    assert not Endpoint.objects.exists()


def test_staff_of_another_hub_cannot_register_or_change_an_endpoint(hub, staff, other_staff, receiver):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.endpoint_create(hub=hub, url=receiver.url, event_types=["*"], acting_user=other_staff)
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    with pytest.raises(PermissionDenied):
        services.endpoint_update(endpoint=endpoint, acting_user=other_staff, url="https://evil.example.org/")
    with pytest.raises(PermissionDenied):
        services.endpoint_rotate_secret(endpoint=endpoint, acting_user=other_staff)


def test_the_events_of_one_commit_reach_each_endpoint_that_wants_them_once(
    hub, other_hub, staff, other_staff, receiver, django_capture_on_commit_callbacks
):
    own, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url + "/own", event_types=["*"])
    network, _ = make_endpoint(
        hub=other_hub,
        acting_user=other_staff,
        url=receiver.url + "/net",
        event_types=["*"],
        scope=EndpointScope.NETWORK,
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit_many(
            [
                events.event("application.decided", hub=hub, payload={"application": 1, "decision": "approved"}),
                events.event("allocation.created", hub=hub, payload={"allocation": 7, "application": 1}),
                events.event("call.opened", hub=other_hub, payload={"call": 3, "title": "Open call"}),
            ]
        )
    assert sorted(Delivery.objects.filter(endpoint=own).values_list("event_type", flat=True)) == [
        "allocation.created",
        "application.decided",
    ]
    assert list(Delivery.objects.filter(endpoint=network).values_list("event_type", flat=True)) == ["call.opened"]
    assert sorted(r.path for r in receiver.requests) == ["/hooks/net", "/hooks/own", "/hooks/own"]
    bodies = [json.loads(r.body) for r in receiver.requests if r.path == "/hooks/own"]
    assert sorted(b["data"].get("allocation", 0) for b in bodies) == [0, 7]


def test_events_of_a_rolled_back_transaction_are_never_announced(
    hub, staff, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(hub=hub, acting_user=staff, url=receiver.url, event_types=["*"])

    def decide_and_fail():
        with transaction.atomic():
            events.emit_many([events.event("application.decided", hub=hub, payload={"application": 1})])
            raise RuntimeError("the decision failed")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), pytest.raises(RuntimeError):
        decide_and_fail()
    assert not Delivery.objects.exists()
    assert receiver.requests == []
