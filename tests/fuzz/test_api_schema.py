"""API fuzzing: Schemathesis generates requests for every operation in ``/api/schema/`` and
checks each answer against the schema.

Every generated request is sent once per caller of ``world.CALLERS`` (a partner key, a
member's personal key, a staff member's personal key with two-factor authentication; all
write-scoped keys of hub A), against the small network of ``world.py``. The checks are
``call_and_validate()``'s: no server error, a documented status code, content type and
headers, a body that matches the schema, and the rest of Schemathesis's defaults (invalid
input refused, authentication enforced, ...) but one, said below.

Path parameters are drawn from the ids that exist (both hubs' objects, and now and then an id
that does not), so that most requests reach real code, not only 404s. Each example runs in a
savepoint that is rolled back, so every example sees the same world and a DELETE or a
transition in one cannot starve the next.

The run is reproducible: a fixed seed, derandomized generation, no example database.
"""

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client, TestCase, override_settings
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection

from gigafactory.wsgi import application

from .ids import RESOURCES, candidates, resource_of
from .world import CALLERS, build_world

MAX_EXAMPLES = 12
SEED = 20261201

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
schema.config.seed = SEED
# The callers' keys are sent as they are: Schemathesis does not make up Authorization headers.
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, deterministic=True, database="none", with_security_parameters=False
)
# Explicit examples, then generated ones (positive and negative); the coverage phase is left out
# because its boundary cases cannot be bounded per operation.
schema.config.phases.update(phases=["examples", "fuzzing"])
# Every default check but one: "positive data acceptance" expects any schema-valid request to
# succeed, and a schema cannot say which slugs and ids exist or which transitions a state allows
# (a well-formed request for another hub's call is rightly a 400 naming the field).
schema.config.checks.positive_data_acceptance.enabled = False


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The network, built once for the module and rolled back after it."""
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        MEDIA_ROOT=tmp_path_factory.mktemp("media"),
    )
    with django_db_blocker.unblock(), fast:
        atomics = TestCase._enter_atomics()
        try:
            built = build_world()
            candidates.load()
            yield built
        finally:
            candidates.clear()
            TestCase._rollback_atomics(atomics)


@pytest.fixture(autouse=True)
def _in_test_transaction(db):
    # The requests run in-process, inside the test's transaction: keep Django from closing the
    # connection at the end of each request (its test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.hook
def map_case(context, case):
    """Point path parameters, and the ids in valid bodies and queries, at objects that exist (``ids.py``)."""
    for name, value in list((case.path_parameters or {}).items()):
        case.path_parameters[name] = candidates.path_value(case.operation.path, name, value)
    if case.meta is None or case.meta.generation.mode.is_positive:
        if case.query:
            case.query = candidates.query(case.query)
        if isinstance(case.body, (dict, list)):
            case.body = candidates.body(case.body)
    return case


def unmutated_negative(case) -> bool:
    """A case Schemathesis labels negative but did not change: it found no mutation of a body
    that is only a binary file and optional fields (multipart turns every type mutation back into
    text), so it sends the valid body and then expects it refused. Nothing about such a request is
    invalid, so the check that invalid input is refused does not apply to it; every other check does."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    data = meta.phase.data
    return not getattr(data, "mutations", None) and getattr(data, "parameter", None) is None


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
def test_api(case, world):
    excluded = [negative_data_rejection] if unmutated_negative(case) else []
    # Each generated request is sent by every caller in turn, each time to the same world.
    for caller in CALLERS:
        sid = transaction.savepoint()
        try:
            case.call_and_validate(headers=world.headers(caller), excluded_checks=excluded)
        except FailureGroup as failure:
            # Schemathesis drops exception notes and filters the key out of its report: say it here.
            raise AssertionError(f"sent with the {caller!r} key: {world.describe(caller)}") from failure
        finally:
            transaction.savepoint_rollback(sid)


# --- The harness itself: if these fail, the fuzzer above tests less than it seems to -----------


def test_every_path_parameter_is_drawn_from_objects_that_exist(world):
    for path in schema.raw_schema["paths"]:
        for name in re.findall(r"\{(\w+)\}", path):
            resource = resource_of(path, name)
            assert resource in RESOURCES, f"{path}: add `{name}` to tests/fuzz/ids.py RESOURCES"
            assert candidates.paths[resource], f"{path}: the world has no {RESOURCES[resource][0]} for `{name}`"


def test_each_caller_is_who_the_world_says(world):
    def get(caller, url):
        return Client().get(url, HTTP_AUTHORIZATION=world.headers(caller)["Authorization"])

    assert get("member", "/api/v1/me/").json()["email"] == "rhea@univ-lyon.example.org"
    assert get("partner", "/api/v1/me/").status_code == 403  # a partner system is nobody's profile
    assert get("partner", "/api/v1/usage-records/").json()["results"]  # it reads its provider's usage
    staff_only = "/api/v1/hubs/lyon/memberships/"
    assert get("member", staff_only).status_code == 403
    assert get("staff", staff_only).status_code == 200  # staff with two-factor authentication
    assert get("member", "/api/v1/reviews/").json()["count"] == 3  # two to do, one submitted
