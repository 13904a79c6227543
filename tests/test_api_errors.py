"""What the API plumbing answers to bad input, and how the schema documents it (the fuzzer in
tests/fuzz/ found each of these; here each is pinned by name)."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework import exceptions

from compute.models import Project
from gigafactory.api_errors import exception_handler
from tests.compute.factories import CallFactory
from tests.factories import make_api_key

CALLS = "/api/v1/calls/"


@pytest.fixture
def key(hub, member):
    return make_api_key(hub=hub, user=member, scope="write")[1]


def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def call(hub):
    return CallFactory(hub=hub, slug="lyon-fast-lane")


def test_a_boolean_filter_refuses_a_value_it_does_not_understand(client, call):
    response = client.get(CALLS, {"open": "maybe"})
    assert response.status_code == 400
    assert response.json() == {"open": ["Must be true or false."]}
    assert [c["slug"] for c in client.get(CALLS, {"open": "true"}).json()["results"]] == ["lyon-fast-lane"]
    assert client.get(CALLS, {"open": "0"}).json()["results"] == []
    assert client.get(CALLS, {"open": ""}).json()["count"] == 1  # empty: not applied


def test_a_filter_given_twice_is_refused(client, call):
    response = client.get(f"{CALLS}?hub=lyon&hub=helsinki")
    assert response.status_code == 400
    assert response.json() == {"hub": ["Give this parameter once."]}


def test_page_size_must_be_a_whole_number_from_one(client, call):
    for bad in ("0", "-3", "ten"):
        response = client.get(CALLS, {"page_size": bad})
        assert response.status_code == 400, bad
        assert response.json() == {"page_size": ["Must be a whole number of at least 1."]}
    assert client.get(CALLS, {"page_size": "1000"}).status_code == 200  # more than 100 counts as 100


def test_a_date_time_with_any_offset_is_compared_in_utc(client, hub):
    # -16:17 is valid ISO 8601 for Python but out of range for PostgreSQL: it was a 500.
    response = client.get("/api/v1/clinic-slots/", {"starts_after": "2026-04-29T13:40:45-16:17"})
    assert response.status_code == 200
    response = client.get("/api/v1/clinic-slots/", {"starts_after": "9999-12-31T23:59:59-23:59"})
    assert response.status_code == 400
    assert response.json() == {"starts_after": ["This date-time is out of range."]}


def test_an_address_under_api_that_matches_nothing_is_a_json_404(client):
    response = client.get("/api/v1/pilots/-1/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_a_number_is_not_text_and_a_nul_is_not_a_slug(client, key):
    response = client.post(
        "/api/v1/projects/", {"hub": "lyon", "title": 12}, content_type="application/json", headers=auth(key)
    )
    assert response.status_code == 400
    assert response.json() == {"title": ["Not a valid string."]}
    response = client.post(
        "/api/v1/projects/", {"hub": "ly\x00on", "title": "Nul"}, content_type="application/json", headers=auth(key)
    )
    assert response.status_code == 400
    assert list(response.json()) == ["hub"]
    assert not Project.objects.exists()


def test_an_idempotency_key_is_visible_ascii(client, key):
    response = client.post(
        "/api/v1/projects/",
        {"hub": "lyon", "title": "Keyed"},
        content_type="application/json",
        headers=auth(key) | {"Idempotency-Key": "clé-1"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Project.objects.exists()


def test_a_message_not_tied_to_a_field_keeps_the_per_field_shape():
    # ``ValidationError("...")`` raised outside a serializer's fields is a bare list in DRF.
    response = exception_handler(exceptions.ValidationError("Nothing to import."), {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Nothing to import."]}


def test_the_schema_documents_the_errors_every_operation_can_give(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    create = schema["paths"]["/api/v1/projects/"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "415", "422", "429"}
    assert create["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert create["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= create["parameters"][-1].items()
    assert list(create["requestBody"]["content"]) == ["application/json"]
    errors = schema["components"]["schemas"]
    assert create["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    assert errors["Error"]["required"] == ["detail"]

    public = schema["paths"]["/api/v1/calls/"]["get"]
    assert set(public["responses"]) == {"200", "400", "401", "404", "429"}  # no 403: anyone may read
    assert {} in public["security"]
    assert all(p["allowEmptyValue"] for p in public["parameters"] if p["name"] != "page")

    usage = schema["paths"]["/api/v1/usage-records/"]["post"]["responses"]["400"]
    assert usage["content"]["application/json"]["schema"] == {
        "anyOf": [{"$ref": "#/components/schemas/UsageBatchError"}, {"$ref": "#/components/schemas/ValidationError"}]
    }
