"""``Idempotency-Key`` on API writes: a repeated request gets the first answer and does nothing twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.models import Project
from gigafactory.idempotency import forget_expired
from gigafactory.models import IdempotentRequest
from tests.factories import make_api_key

PROJECTS = "/api/v1/projects/"


@pytest.fixture
def key(hub, member):
    return make_api_key(hub=hub, user=member, scope="write")[1]


def post(client, key, body, idempotency_key="retry-me-1", path=PROJECTS):
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, body, content_type="application/json", headers=headers)


def test_a_repeated_create_returns_the_first_answer_and_creates_one_project(client, key):
    first = post(client, key, {"hub": "lyon", "title": "Wind forecasts"})
    again = post(client, key, {"hub": "lyon", "title": "Wind forecasts"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Project.objects.filter(title="Wind forecasts").count() == 1


def test_without_the_header_each_request_is_new(client, key):
    post(client, key, {"hub": "lyon", "title": "Twice"}, idempotency_key=None)
    post(client, key, {"hub": "lyon", "title": "Twice"}, idempotency_key=None)
    assert Project.objects.filter(title="Twice").count() == 2
    assert not IdempotentRequest.objects.exists()


def test_the_same_key_for_a_different_request_is_refused(client, key):
    post(client, key, {"hub": "lyon", "title": "One"})
    other = post(client, key, {"hub": "lyon", "title": "Another"})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert not Project.objects.filter(title="Another").exists()


def test_a_validation_error_is_kept_too(client, key):
    bad = post(client, key, {"hub": "lyon", "title": ""})
    again = post(client, key, {"hub": "lyon", "title": ""})
    assert bad.status_code == again.status_code == 400
    assert again.json() == bad.json()
    assert "title" in bad.json()


def test_another_caller_with_the_same_key_is_a_new_request(client, hub, staff, key):
    other_key = make_api_key(hub=hub, user=staff, scope="write")[1]
    post(client, key, {"hub": "lyon", "title": "Mine"})
    theirs = post(client, other_key, {"hub": "lyon", "title": "Mine"})
    assert theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert Project.objects.filter(title="Mine").count() == 2


def test_a_rejected_key_leaves_nothing_to_replay(client, key):
    forged = key[: key.rindex("_") + 1] + "x" * 20  # the right lookup, a wrong secret
    assert post(client, forged, {"hub": "lyon", "title": "Forged"}).status_code == 401
    real = post(client, key, {"hub": "lyon", "title": "Forged"})
    assert real.status_code == 201
    assert Project.objects.filter(title="Forged").count() == 1


def test_a_request_still_running_is_not_run_again(client, key, member):
    post(client, key, {"hub": "lyon", "title": "Slow"})
    # As if the first request had been claimed but had not answered yet.
    IdempotentRequest.objects.update(response_status=None, response_body=b"")
    again = post(client, key, {"hub": "lyon", "title": "Slow"})
    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_in_progress"
    assert Project.objects.filter(title="Slow").count() == 1


def test_a_key_too_long_is_a_clear_400(client, key):
    response = post(client, key, {"hub": "lyon", "title": "Long"}, idempotency_key="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not Project.objects.filter(title="Long").exists()


def test_stored_answers_expire_after_a_day(client, key):
    post(client, key, {"hub": "lyon", "title": "Yesterday"})
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = post(client, key, {"hub": "lyon", "title": "Yesterday"})
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert Project.objects.filter(title="Yesterday").count() == 2
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert forget_expired() == 1
    assert not IdempotentRequest.objects.exists()
