"""Webhook pages for hub staff: register, see the secret once, the log, redeliver, test; scoping."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from hubs.webhooks.models import Delivery, DeliveryStatus, Endpoint

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def test_staff_register_an_endpoint_and_see_the_secret_only_once(staff_client, hub, receiver):
    response = staff_client.post(
        reverse("webhooks:endpoint_create"),
        {
            "hub": hub.pk,
            "url": receiver.url,
            "description": "Slurm bridge",
            "event_types": ["allocation.expired"],
            "scope": "hub",
        },
    )
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == endpoint.get_absolute_url()
    page = staff_client.get(endpoint.get_absolute_url())
    secret = page.context["new_secret"]
    assert secret.startswith("whsec_")
    assert secret in page.content.decode()
    again = staff_client.get(endpoint.get_absolute_url()).content.decode()
    assert secret not in again
    assert endpoint.masked_secret in again


def test_a_form_error_names_the_field_and_registers_nothing(staff_client, hub):
    response = staff_client.post(
        reverse("webhooks:endpoint_create"), {"hub": hub.pk, "url": "ftp://files.example.org", "scope": "hub"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "url" in errors
    assert "event_types" in errors
    assert not Endpoint.objects.exists()


def test_the_endpoint_page_shows_the_log_and_test_and_redeliver_work(
    staff_client, hub, staff, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("webhooks:endpoint_test", args=[endpoint.pk]), follow=True)
    assert "Test event queued" in response.content.decode()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    page = staff_client.get(endpoint.get_absolute_url()).content.decode()
    assert f"#{delivery.pk}" in page
    assert "<svg" in page
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("webhooks:delivery_redeliver", args=[delivery.pk]))
    assert len(receiver.requests) == 2
    detail = staff_client.get(delivery.get_absolute_url()).content.decode()
    assert "Attempts" in detail
    assert detail.count("status-succeeded") >= 2


def test_redeliver_goes_back_only_to_a_page_of_the_site(staff_client, hub, staff):
    # Regression: "next" was followed wherever it pointed (an open redirect).
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url="http://127.0.0.1:9/hooks")
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id=uuid.uuid4(),
        event_type="ping",
        body="{}",
        status=DeliveryStatus.FAILED,
        retry_until=timezone.now(),
    )
    url = reverse("webhooks:delivery_redeliver", args=[delivery.pk])
    outside = staff_client.post(url, {"next": "https://evil.example/phish"})
    assert outside["Location"] == delivery.get_absolute_url()
    inside = staff_client.post(url, {"next": endpoint.get_absolute_url()})
    assert inside["Location"] == endpoint.get_absolute_url()


def test_the_endpoint_list_and_log_cost_the_same_queries_with_more_rows(
    staff_client, hub, staff, receiver, django_assert_max_num_queries
):
    endpoints = [make_endpoint(hub=hub, acting_user=staff, url=f"{receiver.url}/{n}")[0] for n in range(6)]
    for n in range(30):
        Delivery.objects.create(
            endpoint=endpoints[0],
            event_id=f"00000000-0000-0000-0000-{n:012d}",
            event_type="application.submitted",
            body="{}",
            next_attempt_at=endpoints[0].created_at,
            retry_until=endpoints[0].created_at,
        )
    # session, user, MFA check, memberships, hub check, count, page, unread count
    with django_assert_max_num_queries(10):
        assert staff_client.get(reverse("webhooks:endpoint_list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert staff_client.get(endpoints[0].get_absolute_url()).status_code == 200


def test_staff_of_another_hub_get_not_found_on_every_endpoint_page(client, hub, staff, other_staff, receiver):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-0000-0000-000000000009",
        event_type="ping",
        body="{}",
        next_attempt_at=endpoint.created_at,
        retry_until=endpoint.created_at,
    )
    client.force_login(other_staff)
    assert endpoint.url not in client.get(reverse("webhooks:endpoint_list")).content.decode()
    for name in ("endpoint_detail", "endpoint_edit"):
        assert client.get(reverse(f"webhooks:{name}", args=[endpoint.pk])).status_code == 404
    for name in ("endpoint_test", "endpoint_rotate", "endpoint_pause", "endpoint_delete"):
        assert client.post(reverse(f"webhooks:{name}", args=[endpoint.pk])).status_code == 404
    assert client.get(reverse("webhooks:delivery_detail", args=[delivery.pk])).status_code == 404
    assert client.post(reverse("webhooks:delivery_redeliver", args=[delivery.pk])).status_code == 404
    response = client.post(
        reverse("webhooks:endpoint_create"), {"hub": hub.pk, "url": "https://evil.example.org", "event_types": ["*"]}
    )
    assert "hub" in response.context["form"].errors
    assert Endpoint.objects.get().url == receiver.url


def test_members_cannot_open_the_webhook_pages(client, member):
    client.force_login(member)
    assert client.get(reverse("webhooks:endpoint_list")).status_code == 403


def test_deleting_asks_for_confirmation_and_removes_the_endpoint(staff_client, hub, staff, receiver):
    endpoint, _ = make_endpoint(hub=hub, acting_user=staff, url=receiver.url)
    page = staff_client.get(endpoint.get_absolute_url()).content.decode()
    assert 'data-confirm="Delete this endpoint' in page
    response = staff_client.post(reverse("webhooks:endpoint_delete", args=[endpoint.pk]))
    assert response["Location"] == reverse("webhooks:endpoint_list")
    assert not Endpoint.objects.exists()
