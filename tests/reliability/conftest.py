"""Fixtures of the fault tests: a hub with staff (MFA on), a funded fast-lane call and a project."""

import pytest

from compute.models import MILLI, Track
from hubs.models import Role
from tests.compute.factories import CallFactory, ProjectFactory
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory, make_api_key

REQUEST = 100 * MILLI  # what each application asks for (100 GPU-hours at 1 credit)


class World:
    pass


@pytest.fixture
def world(db):
    """Lyon with a staff member (MFA, write key), an applicant (write key) and their project."""
    w = World()
    w.hub = HubFactory(slug="lyon-faults")
    w.staff = verified_user(name="Fay Staff")
    MembershipFactory(user=w.staff, hub=w.hub, role=Role.STAFF)
    enable_mfa(w.staff)
    w.applicant = verified_user(name="Ada Applicant")
    MembershipFactory(user=w.applicant, hub=w.hub, role=Role.MEMBER)
    w.project = ProjectFactory(hub=w.hub, pi=w.applicant)
    _, w.staff_key = make_api_key(hub=w.hub, user=w.staff, scope="write", name="staff")
    _, w.applicant_key = make_api_key(hub=w.hub, user=w.applicant, scope="write", name="applicant")
    return w


def fast_lane_call(world, *, budget):
    return CallFactory(hub=world.hub, track=Track.FAST_LANE, funded=budget)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}
