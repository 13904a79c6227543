import pytest

from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory


@pytest.fixture
def people(hub):
    """Five members of ``hub``, by name."""
    out = {}
    for name in ("ana", "ben", "cleo", "dan", "eva"):
        user = verified_user(name=name.title(), email=f"{name}@example.org")
        MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
        out[name] = user
    return out
