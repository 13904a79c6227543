"""Personal API keys: made on the account page, shown once, stored hashed, scoped, revocable."""

import hashlib
import re

import pytest

from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import ApiKey, Role
from tests.factories import HubFactory, MembershipFactory, make_api_key

KEY_RE = re.compile(r'data-testid="new-key">(gf_([0-9a-f]{12})_([A-Za-z0-9_-]+))<')


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def test_member_creates_a_key_shown_once_and_stored_hashed(client, member, hub):
    client.force_login(member)
    response = client.post("/account/api-keys/", {"name": "my notebook", "hub": hub.pk, "scope": "read"}, follow=True)
    assert response.redirect_chain == [("/account/api-keys/", 302)], "post/redirect/get: a reload makes no key"
    html = response.content.decode()
    match = KEY_RE.search(html)
    assert match, "the new key is shown"
    plaintext, lookup, secret = match.groups()
    key = ApiKey.objects.get(lookup=lookup)
    assert key.user == member
    assert key.hub == hub
    assert key.scope == "read"
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert AuditEvent.objects.filter(action="api_key.created", object_id=str(key.pk), actor=member).exists()

    again = client.get("/account/api-keys/").content.decode()
    assert secret not in again
    assert ApiKey.objects.filter(user=member).count() == 1
    assert f"gf_{lookup}_…" in again
    assert "my notebook" in again

    me = client.get("/api/v1/me/", headers=bearer(plaintext))
    assert me.status_code == 200
    assert me.json()["email"] == member.email


def test_keys_can_only_be_scoped_to_the_members_hubs(client, member, other_hub):
    client.force_login(member)
    response = client.post("/account/api-keys/", {"name": "sneaky", "hub": other_hub.pk, "scope": "write"})
    assert response.status_code == 200
    assert "hub" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_people_without_a_hub_are_told_to_join_first(client, db):
    from tests.conftest import verified_user

    client.force_login(verified_user())
    html = client.get("/account/api-keys/").content.decode()
    assert "Join a hub first" in html


def test_revoking_a_key_stops_it_working(client, member, hub):
    key, plaintext = make_api_key(hub=hub, user=member)
    client.force_login(member)
    response = client.post(f"/account/api-keys/{key.pk}/revoke/", follow=True)
    assert "Key &#x27;test key&#x27; revoked: it no longer works." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert client.get("/api/v1/me/", headers=bearer(plaintext)).status_code == 401
    again = client.post(f"/account/api-keys/{key.pk}/revoke/", follow=True)
    assert "already revoked" in again.content.decode()


def test_nobody_else_can_revoke_my_key(client, member, staff, hub):
    key, _ = make_api_key(hub=hub, user=member)
    client.force_login(staff)
    assert client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_key_never_outranks_its_owner(client, staff, hub):
    """A staff member's key loses staff powers the moment its owner stops being staff."""
    _, plaintext = make_api_key(hub=hub, user=staff, scope="write")
    assert client.get("/api/v1/hubs/lyon/memberships/", headers=bearer(plaintext)).status_code == 200
    boss = MembershipFactory(hub=hub, role=Role.ADMIN).user
    services.membership_change_role(membership=staff.memberships.get(), role=Role.MEMBER, acting_user=boss)
    assert client.get("/api/v1/hubs/lyon/memberships/", headers=bearer(plaintext)).status_code == 403


def test_last_used_is_shown_on_the_keys_page(client, member, hub):
    key, plaintext = make_api_key(hub=hub, user=member, name="ci")
    client.force_login(member)
    assert "never" in client.get("/account/api-keys/").content.decode()
    client.get("/api/v1/me/", headers=bearer(plaintext))
    key.refresh_from_db()
    html = client.get("/account/api-keys/").content.decode()
    assert key.last_used_at.strftime("%Y") in html
    assert ">never<" not in html


@pytest.mark.parametrize("rows", [3, 30])
def test_keys_page_query_count_does_not_grow(client, member, hub, rows, django_assert_num_queries):
    for other in HubFactory.create_batch(2):
        MembershipFactory(user=member, hub=other)
    for i in range(rows):
        make_api_key(hub=hub, user=member, name=f"key {i}")
    client.force_login(member)
    # session, user, roles, unread count, the form's hubs (checked, then listed), keys with hubs
    with django_assert_num_queries(7):
        response = client.get("/account/api-keys/")
    assert len(response.context["keys"]) == rows
