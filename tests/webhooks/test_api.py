"""API v1 for webhook endpoints and their delivery log: partner keys, staff, scoping, query counts."""

import json

import pytest

from hubs import services as hub_services
from hubs.webhooks import services
from hubs.webhooks.models import Delivery, DeliveryStatus, Endpoint
from tests.factories import make_api_key

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def bearer(plaintext):
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


@pytest.fixture
def partner(hub, staff):
    return hub_services.partner_system_create(
        hub=hub, name="Lyon HPC centre", contact_email="ops@hpc.example.org", acting_user=staff
    )


@pytest.fixture
def write_key(hub, partner):
    return make_api_key(hub=hub, partner=partner, scope="write")[1]


@pytest.fixture
def other_partner_key(other_hub, other_staff):
    partner = hub_services.partner_system_create(hub=other_hub, name="Helsinki cloud", acting_user=other_staff)
    return make_api_key(hub=other_hub, partner=partner, scope="write")[1]


def test_a_partner_registers_an_endpoint_and_gets_its_secret_once(
    client, hub, partner, write_key, receiver, django_capture_on_commit_callbacks
):
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": receiver.url, "event_types": ["allocation.usage_threshold"], "description": "Stop jobs"},
        content_type="application/json",
        **bearer(write_key),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["hub"] == hub.slug
    assert body["partner"] == partner.name
    assert body["secret_hint"].endswith(body["secret"][-4:])

    detail = client.get(f"/api/v1/webhooks/endpoints/{body['id']}/", **bearer(write_key))
    assert detail.status_code == 200
    assert "secret" not in detail.json()

    with django_capture_on_commit_callbacks(execute=True):
        test = client.post(f"/api/v1/webhooks/endpoints/{body['id']}/test/", **bearer(write_key))
    assert test.status_code == 202
    assert test.json()["event_type"] == "ping"
    assert Delivery.objects.get(pk=test.json()["id"]).status == DeliveryStatus.SUCCEEDED
    assert receiver.requests[0].json["type"] == "ping"


def test_bad_input_is_answered_per_field_and_nothing_is_written(client, write_key):
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": "gopher://old.example.org", "event_types": ["no.such"], "scope": "galaxy"},
        content_type="application/json",
        **bearer(write_key),
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"event_types", "scope"}
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": "gopher://old.example.org", "event_types": ["*"]},
        content_type="application/json",
        **bearer(write_key),
    )
    assert response.status_code == 400
    assert "http" in response.json()["url"][0]
    assert not Endpoint.objects.exists()


def test_a_read_only_partner_key_cannot_register(client, hub, partner):
    read_key = make_api_key(hub=hub, partner=partner, scope="read")[1]
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": "https://x.example.org/h", "event_types": ["*"]},
        content_type="application/json",
        **bearer(read_key),
    )
    assert response.status_code == 403


def test_another_hubs_partner_sees_and_changes_nothing(client, hub, staff, partner, other_partner_key, receiver):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, partner=partner)
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="ping",
        body="{}",
        next_attempt_at=endpoint.created_at,
        retry_until=endpoint.created_at,
    )
    assert client.get("/api/v1/webhooks/endpoints/", **bearer(other_partner_key)).json()["count"] == 0
    for method, url in [
        ("get", f"/api/v1/webhooks/endpoints/{endpoint.pk}/"),
        ("patch", f"/api/v1/webhooks/endpoints/{endpoint.pk}/"),
        ("delete", f"/api/v1/webhooks/endpoints/{endpoint.pk}/"),
        ("post", f"/api/v1/webhooks/endpoints/{endpoint.pk}/rotate-secret/"),
        ("get", f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/"),
        ("get", f"/api/v1/webhooks/deliveries/{delivery.pk}/"),
        ("post", f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/"),
    ]:
        response = getattr(client, method)(
            url, {"url": "https://evil.example.org/"}, content_type="application/json", **bearer(other_partner_key)
        )
        assert response.status_code == 404, (method, url)
    endpoint.refresh_from_db()
    assert endpoint.url == receiver.url


def test_staff_of_another_hub_cannot_see_or_edit_an_endpoint_through_the_api(client, hub, staff, other_staff, receiver):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    client.force_login(other_staff)
    assert client.get("/api/v1/webhooks/endpoints/").json()["count"] == 0
    response = client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint.pk}/",
        {"url": "https://evil.example.org/"},
        content_type="application/json",
    )
    assert response.status_code == 404
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"hub": hub.slug, "url": "https://evil.example.org/", "event_types": ["*"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "hub" in response.json()


def test_members_are_not_webhook_managers(client, member):
    client.force_login(member)
    assert client.get("/api/v1/webhooks/endpoints/").status_code == 403


def test_staff_manage_their_hubs_endpoints_through_the_api(client, hub, staff, receiver):
    client.force_login(staff)
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        {"hub": hub.slug, "url": receiver.url, "event_types": ["application.submitted"], "scope": "network"},
        content_type="application/json",
    )
    assert response.status_code == 201
    pk = response.json()["id"]
    response = client.patch(
        f"/api/v1/webhooks/endpoints/{pk}/", {"event_types": ["*"]}, content_type="application/json"
    )
    assert response.json()["event_types"] == ["*"]
    assert client.post(f"/api/v1/webhooks/endpoints/{pk}/pause/").json()["status"] == "paused"
    assert client.post(f"/api/v1/webhooks/endpoints/{pk}/pause/").status_code == 409
    assert client.post(f"/api/v1/webhooks/endpoints/{pk}/enable/").json()["status"] == "active"
    rotated = client.post(f"/api/v1/webhooks/endpoints/{pk}/rotate-secret/").json()
    assert rotated["secret"].startswith("whsec_")
    assert client.delete(f"/api/v1/webhooks/endpoints/{pk}/").status_code == 204
    assert not Endpoint.objects.filter(pk=pk).exists()


def test_the_delivery_log_is_paginated_filtered_and_its_query_count_fixed(
    client, hub, staff, partner, write_key, receiver, django_assert_max_num_queries
):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, partner=partner)
    for n in range(12):
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            event_id=f"00000000-0000-0000-0000-{n:012d}",
            event_type="application.submitted",
            body=json.dumps({"n": n}),
            status=DeliveryStatus.FAILED if n % 3 == 0 else DeliveryStatus.PENDING,
            next_attempt_at=None if n % 3 == 0 else endpoint.created_at,
            retry_until=endpoint.created_at,
        )
    # key lookup, key last-used, endpoint, count, page
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/?page_size=5", **bearer(write_key))
    body = response.json()
    assert body["count"] == 12
    assert len(body["results"]) == 5
    failed = client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/?status=failed", **bearer(write_key))
    assert failed.json()["count"] == 4
    with django_assert_max_num_queries(6):
        client.get("/api/v1/webhooks/endpoints/", **bearer(write_key))
    detail = client.get(f"/api/v1/webhooks/deliveries/{delivery.pk}/", **bearer(write_key)).json()
    assert detail["body"] == {"n": 11}
    assert detail["attempts"] == []


def test_redelivery_through_the_api(
    client, hub, staff, partner, write_key, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, partner=partner)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.send_test_event(endpoint=endpoint, acting_user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/", **bearer(write_key))
    assert response.status_code == 202
    assert len(receiver.requests) == 2
    assert client.get(f"/api/v1/webhooks/deliveries/{delivery.pk}/", **bearer(write_key)).json()["attempt_count"] == 2


def test_the_event_types_are_listed_publicly(client, db):
    types = {row["type"] for row in client.get("/api/v1/webhooks/event-types/").json()}
    assert {"application.submitted", "allocation.usage_threshold", "pilot.adapted"} <= types
