"""API v1: hubs, organisations, me and memberships, as partner systems and people use them."""

import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from gigafactory.api import ApiKeyRateThrottle
from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import ApiKey, Membership, MembershipStatus, Organisation, PartnerSystem, Profile, Role
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory, OrganisationFactory, make_api_key

S = MembershipStatus


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def partner_key(hub, staff):
    partner = services.partner_system_create(hub=hub, name="Lyon HPC centre", acting_user=staff)
    return make_api_key(hub=hub, partner=partner, scope="write")


@pytest.fixture
def requested(hub):
    return MembershipFactory(hub=hub, status=S.REQUESTED, user=verified_user(name="Rita Requester"))


# --- Hubs ---------------------------------------------------------------------------------


@pytest.fixture
def network(db):
    HubFactory(name="Lyon", slug="lyon", city="Lyon", country="FR", focus_sectors=["health", "climate"])
    HubFactory(name="Helsinki", slug="helsinki", city="Helsinki", country="FI", focus_sectors=["energy"])
    HubFactory(name="Lisbon", slug="lisbon", city="Lisboa", country="PT", focus_sectors=["agriculture", "health"])
    HubFactory(name="Secret", slug="secret", city="Paris", country="FR", public=False)


def names(response):
    return [row["name"] for row in response.json()["results"]]


def test_hub_list_is_public_and_hides_private_hubs(client, network):
    response = client.get("/api/v1/hubs/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert names(response) == ["Helsinki", "Lisbon", "Lyon"]
    lyon = body["results"][2]
    assert lyon["slug"] == "lyon"
    assert lyon["focus_sectors"] == ["health", "climate"]
    assert lyon["member_count"] == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("country=FR", ["Lyon"]),
        ("country=PT", ["Lisbon"]),
        ("sector=health", ["Lisbon", "Lyon"]),
        ("sector=energy", ["Helsinki"]),
        ("country=FR&sector=energy", []),
        ("search=lisboa", ["Lisbon"]),
        ("search=hel", ["Helsinki"]),
    ],
)
def test_hub_list_filters(client, network, query, expected):
    response = client.get(f"/api/v1/hubs/?{query}")
    assert response.status_code == 200
    assert names(response) == expected


def test_hub_list_rejects_an_unknown_sector_with_a_field_message(client, network):
    response = client.get("/api/v1/hubs/?sector=mining")
    assert response.status_code == 400
    assert "sector" in response.json()


def test_hub_list_is_paginated(client, network):
    first = client.get("/api/v1/hubs/?page_size=2").json()
    assert first["count"] == 3
    assert [h["name"] for h in first["results"]] == ["Helsinki", "Lisbon"]
    assert first["next"].endswith("page=2&page_size=2")
    second = client.get(first["next"]).json()
    assert [h["name"] for h in second["results"]] == ["Lyon"]
    assert second["next"] is None


def test_hub_detail_counts_active_members_and_private_hub_is_404(client, hub, member):
    MembershipFactory(hub=hub, status=S.REQUESTED)
    response = client.get("/api/v1/hubs/lyon/")
    assert response.status_code == 200
    assert response.json()["member_count"] == 1
    HubFactory(slug="hidden", public=False)
    assert client.get("/api/v1/hubs/hidden/").status_code == 404


def test_private_hub_is_visible_to_its_members(client, db):
    hidden = HubFactory(slug="hidden", public=False)
    insider = verified_user()
    MembershipFactory(user=insider, hub=hidden)
    client.force_login(insider)
    assert client.get("/api/v1/hubs/hidden/").status_code == 200
    assert [h["slug"] for h in client.get("/api/v1/hubs/").json()["results"]] == ["hidden"]


@pytest.mark.parametrize("rows", [3, 30])
def test_hub_list_query_count_does_not_grow(client, db, rows, django_assert_num_queries):
    for i in range(rows):
        hub = HubFactory()
        if i % 2:
            MembershipFactory(hub=hub)
    with django_assert_num_queries(2):  # count, hubs with member counts
        response = client.get("/api/v1/hubs/")
    assert response.json()["count"] == rows


# --- Organisations ------------------------------------------------------------------------


def test_organisation_list_is_public_and_filterable(client, db):
    OrganisationFactory(name="Sorbonne", kind="university", country="FR")
    OrganisationFactory(name="Nokia", kind="enterprise", country="FI")
    response = client.get("/api/v1/organisations/?kind=enterprise")
    assert response.status_code == 200
    assert [o["name"] for o in response.json()["results"]] == ["Nokia"]
    assert [o["name"] for o in client.get("/api/v1/organisations/?search=sorb").json()["results"]] == ["Sorbonne"]


@pytest.mark.parametrize("rows", [3, 30])
def test_organisation_list_query_count_does_not_grow(client, db, rows, django_assert_num_queries):
    OrganisationFactory.create_batch(rows)
    with django_assert_num_queries(2):  # count, organisations
        response = client.get("/api/v1/organisations/")
    assert response.json()["count"] == rows


NEW_ORG = {"name": "Hospices Civils de Lyon", "kind": "hospital", "country": "FR", "website": "https://www.chu-lyon.fr"}


def test_signed_in_user_registers_an_organisation(client, member):
    client.force_login(member)
    response = client.post("/api/v1/organisations/", NEW_ORG, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["name"] == "Hospices Civils de Lyon"
    org = Organisation.objects.get(name="Hospices Civils de Lyon")
    assert org.kind == "hospital"
    assert AuditEvent.objects.filter(action="organisation.created", object_id=str(org.pk), actor=member).exists()


def test_personal_write_key_registers_an_organisation_but_read_key_cannot(client, hub, member):
    _, read = make_api_key(hub=hub, user=member, scope="read")
    _, write = make_api_key(hub=hub, user=member, scope="write")
    refused = client.post("/api/v1/organisations/", NEW_ORG, content_type="application/json", headers=bearer(read))
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert not Organisation.objects.exists()
    done = client.post("/api/v1/organisations/", NEW_ORG, content_type="application/json", headers=bearer(write))
    assert done.status_code == 201


def test_partner_key_and_anonymous_cannot_register_organisations(client, partner_key):
    _, plaintext = partner_key
    response = client.post(
        "/api/v1/organisations/", NEW_ORG, content_type="application/json", headers=bearer(plaintext)
    )
    assert response.status_code == 403
    assert "signed-in users" in response.json()["detail"]
    assert client.post("/api/v1/organisations/", NEW_ORG, content_type="application/json").status_code == 401
    assert not Organisation.objects.exists()


def test_duplicate_organisation_is_a_field_error_not_a_crash(client, member):
    OrganisationFactory(name="Sorbonne Université", country="FR")
    client.force_login(member)
    response = client.post(
        "/api/v1/organisations/",
        {"name": "sorbonne université", "kind": "university", "country": "FR"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "already" in response.json()["name"][0]
    assert Organisation.objects.count() == 1


def test_organisation_with_bad_fields_gets_a_message_per_field(client, member):
    client.force_login(member)
    response = client.post(
        "/api/v1/organisations/",
        {"name": "", "kind": "church", "country": "XX", "website": "not a url"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"name", "kind", "country", "website"}


# --- Me -----------------------------------------------------------------------------------


def test_me_shows_the_profile(client, member):
    client.force_login(member)
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["email"] == member.email
    assert response.json()["name"] == "Marie Member"
    assert response.json()["orcid"] == ""


def test_reading_pages_and_me_writes_nothing(client, member):
    client.force_login(member)
    for path in ["/api/v1/me/", "/dashboard/", "/account/profile/", "/account/export/"]:
        assert client.get(path).status_code == 200
    assert not Profile.objects.exists()


def test_me_patch_saves_the_profile(client, member):
    org = OrganisationFactory(name="Inria")
    client.force_login(member)
    response = client.patch(
        "/api/v1/me/",
        {"name": "Marie Curie", "orcid": "0000-0002-1825-0097", "organisation": org.pk, "country": "FR"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["orcid"] == "0000-0002-1825-0097"
    member.refresh_from_db()
    assert member.name == "Marie Curie"
    assert member.profile.orcid == "0000-0002-1825-0097"
    assert member.profile.organisation == org


def test_me_patch_with_a_bad_orcid_names_the_field_and_saves_nothing(client, member):
    client.force_login(member)
    response = client.patch(
        "/api/v1/me/", {"name": "Changed Name", "orcid": "1234-5678"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["orcid"]
    assert "ORCID iD like 0000-0002-1825-0097" in body["orcid"][0]
    member.refresh_from_db()
    assert member.name == "Marie Member"
    assert client.get("/api/v1/me/").json()["orcid"] == ""
    assert not AuditEvent.objects.filter(action="profile.updated").exists()


def test_me_patch_with_someone_elses_orcid_names_the_field(client, member, staff):
    services.profile_update(user=staff, orcid="0000-0002-1825-0097")
    client.force_login(member)
    response = client.patch("/api/v1/me/", {"orcid": "0000-0002-1825-0097"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"orcid": ["This ORCID iD is already linked to another account."]}


def test_me_patch_with_an_unknown_country_names_the_field(client, member):
    client.force_login(member)
    response = client.patch("/api/v1/me/", {"country": "XX"}, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["country"]


def test_me_needs_a_person(client, partner_key):
    assert client.get("/api/v1/me/").status_code == 401
    assert client.get("/api/v1/me/", headers=bearer(partner_key[1])).status_code == 403


def test_me_patch_needs_a_write_key(client, hub, member):
    _, read = make_api_key(hub=hub, user=member, scope="read")
    response = client.patch("/api/v1/me/", {"name": "Via Key"}, content_type="application/json", headers=bearer(read))
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.name == "Marie Member"


# --- My memberships -----------------------------------------------------------------------


def test_my_memberships_list(client, member, other_hub):
    MembershipFactory(user=member, hub=other_hub, status=S.REQUESTED)
    MembershipFactory(hub=other_hub)  # someone else's
    client.force_login(member)
    response = client.get("/api/v1/memberships/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["hub"], r["status"]) for r in rows] == [("helsinki", "requested"), ("lyon", "active")]
    assert client.get("/api/v1/memberships/?status=active").json()["count"] == 1


def test_request_to_join_then_again_is_409(client, member, other_hub):
    client.force_login(member)
    response = client.post(
        "/api/v1/memberships/", {"hub": "helsinki", "motivation": "Wind forecasts"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "requested"
    assert response.json()["hub"] == "helsinki"
    membership = Membership.objects.get(user=member, hub=other_hub)
    assert membership.motivation == "Wind forecasts"

    again = client.post(
        "/api/v1/memberships/", {"hub": "helsinki", "motivation": "Again"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert again["Content-Type"] == "application/json"
    assert again.json()["code"] == "invalid_transition"
    assert "already asked to join Helsinki AI Gigafactory" in again.json()["detail"]
    membership.refresh_from_db()
    assert membership.motivation == "Wind forecasts"


def test_active_member_asking_again_is_told_so(client, member):
    client.force_login(member)
    response = client.post("/api/v1/memberships/", {"hub": "lyon", "motivation": "x"}, content_type="application/json")
    assert response.status_code == 409
    assert "already a member" in response.json()["detail"]


def test_request_needs_a_known_visible_hub_and_a_motivation(client, member):
    HubFactory(slug="hidden", public=False)
    client.force_login(member)
    response = client.post("/api/v1/memberships/", {"hub": "nowhere"}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"hub", "motivation"}
    hidden = client.post("/api/v1/memberships/", {"hub": "hidden", "motivation": "x"}, content_type="application/json")
    assert hidden.status_code == 400
    assert "hub" in hidden.json()
    assert not Membership.objects.filter(hub__slug="hidden").exists()


def test_request_with_read_key_is_refused_and_write_key_works(client, member, hub):
    _, read = make_api_key(hub=hub, user=member, scope="read")
    _, write = make_api_key(hub=hub, user=member, scope="write")
    payload = {"affiliation": "Imaging lab"}
    refused = client.patch("/api/v1/me/", payload, content_type="application/json", headers=bearer(read))
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert client.get("/api/v1/me/", headers=bearer(read)).json()["affiliation"] == ""
    done = client.patch("/api/v1/me/", payload, content_type="application/json", headers=bearer(write))
    assert done.status_code == 200
    assert client.get("/api/v1/me/", headers=bearer(read)).json()["affiliation"] == "Imaging lab"


def test_leaving_revokes_the_keys_of_that_hub(client, member, hub):
    _, write = make_api_key(hub=hub, user=member, scope="write")
    membership = member.memberships.get()
    left = client.post(f"/api/v1/memberships/{membership.pk}/leave/", headers=bearer(write))
    assert left.status_code == 200
    assert client.get("/api/v1/me/", headers=bearer(write)).status_code == 401


def test_key_scoped_to_one_hub_cannot_join_or_leave_another(client, member, hub, other_hub):
    _, write = make_api_key(hub=hub, user=member, scope="write")
    response = client.post(
        "/api/v1/memberships/",
        {"hub": "helsinki", "motivation": "x"},
        content_type="application/json",
        headers=bearer(write),
    )
    assert response.status_code == 400
    assert "only works for Lyon AI Gigafactory" in response.json()["hub"][0]
    elsewhere = MembershipFactory(user=member, hub=other_hub)
    leave = client.post(f"/api/v1/memberships/{elsewhere.pk}/leave/", headers=bearer(write))
    assert leave.status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == S.ACTIVE


def test_partner_key_cannot_use_personal_membership_endpoints(client, partner_key):
    _, plaintext = partner_key
    assert client.get("/api/v1/memberships/", headers=bearer(plaintext)).status_code == 403
    response = client.post(
        "/api/v1/memberships/",
        {"hub": "lyon", "motivation": "x"},
        content_type="application/json",
        headers=bearer(plaintext),
    )
    assert response.status_code == 403


def test_leave_a_hub_and_leaving_twice_is_409(client, member):
    membership = member.memberships.get()
    client.force_login(member)
    response = client.post(f"/api/v1/memberships/{membership.pk}/leave/")
    assert response.status_code == 200
    assert response.json()["status"] == "left"
    again = client.post(f"/api/v1/memberships/{membership.pk}/leave/")
    assert again.status_code == 409


def test_cannot_leave_someone_elses_membership(client, member, staff):
    client.force_login(member)
    theirs = staff.memberships.get()
    assert client.post(f"/api/v1/memberships/{theirs.pk}/leave/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == S.ACTIVE


@pytest.mark.parametrize("rows", [3, 30])
def test_my_memberships_query_count_does_not_grow(client, member, rows, django_assert_num_queries):
    for hub in HubFactory.create_batch(rows - 1):
        MembershipFactory(user=member, hub=hub)
    client.force_login(member)
    with django_assert_num_queries(4):  # session, user, count, memberships with hubs
        response = client.get("/api/v1/memberships/")
    assert response.json()["count"] == rows


# --- Staff: a hub's memberships -----------------------------------------------------------


def test_staff_list_their_hubs_members_with_filters(client, staff, member, requested):
    MembershipFactory(hub=HubFactory(slug="elsewhere"))
    client.force_login(staff)
    response = client.get("/api/v1/hubs/lyon/memberships/")
    assert response.status_code == 200
    emails = {r["user"]["email"] for r in response.json()["results"]}
    assert emails == {staff.email, member.email, requested.user.email}
    pending = client.get("/api/v1/hubs/lyon/memberships/?status=requested").json()["results"]
    assert [r["user"]["name"] for r in pending] == ["Rita Requester"]
    assert pending[0]["hub"] == "lyon"
    found = client.get("/api/v1/hubs/lyon/memberships/?search=rita").json()["results"]
    assert [r["id"] for r in found] == [requested.pk]


def test_staff_of_another_hub_get_404_for_the_list(client, other_staff, requested):
    client.force_login(other_staff)
    assert client.get("/api/v1/hubs/lyon/memberships/").status_code == 404


def test_members_and_anonymous_cannot_list_hub_members(client, member, hub):
    assert client.get("/api/v1/hubs/lyon/memberships/").status_code == 401
    client.force_login(member)
    response = client.get("/api/v1/hubs/lyon/memberships/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only hub staff can do this."


def test_staff_without_mfa_are_refused(client, hub, requested):
    user = verified_user()
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    client.force_login(user)
    listing = client.get("/api/v1/hubs/lyon/memberships/")
    assert listing.status_code == 403
    assert "two-factor" in listing.json()["detail"]
    approve = client.post(f"/api/v1/memberships/{requested.pk}/approve/")
    assert approve.status_code == 403
    requested.refresh_from_db()
    assert requested.status == S.REQUESTED


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (S.REQUESTED, "approve", S.ACTIVE),
        (S.REQUESTED, "reject", S.REJECTED),
        (S.ACTIVE, "suspend", S.SUSPENDED),
        (S.SUSPENDED, "reinstate", S.ACTIVE),
    ],
)
def test_staff_transitions(client, staff, hub, start, action, end):
    membership = MembershipFactory(hub=hub, status=start)
    client.force_login(staff)
    response = client.post(
        f"/api/v1/memberships/{membership.pk}/{action}/", {"note": "Decided"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == end
    membership.refresh_from_db()
    assert membership.status == end
    assert membership.decision_note == "Decided"
    assert AuditEvent.objects.filter(action=f"membership.{action}", object_id=str(membership.pk), actor=staff).exists()


def test_approving_twice_is_409(client, staff, requested):
    client.force_login(staff)
    assert client.post(f"/api/v1/memberships/{requested.pk}/approve/").status_code == 200
    again = client.post(f"/api/v1/memberships/{requested.pk}/approve/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_staff_of_hub_b_get_404_for_hub_a_membership(client, other_staff, requested):
    client.force_login(other_staff)
    for action in ["approve", "reject", "suspend", "reinstate"]:
        assert client.post(f"/api/v1/memberships/{requested.pk}/{action}/").status_code == 404
    assert (
        client.post(
            f"/api/v1/memberships/{requested.pk}/role/", {"role": "reviewer"}, content_type="application/json"
        ).status_code
        == 404
    )
    requested.refresh_from_db()
    assert requested.status == S.REQUESTED


def test_role_endpoint(client, staff, member):
    membership = member.memberships.get()
    client.force_login(staff)
    url = f"/api/v1/memberships/{membership.pk}/role/"
    response = client.post(url, {"role": "reviewer"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER

    too_high = client.post(url, {"role": "admin"}, content_type="application/json")
    assert too_high.status_code == 403
    unknown = client.post(url, {"role": "emperor"}, content_type="application/json")
    assert unknown.status_code == 400
    assert "role" in unknown.json()
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER


def test_role_of_a_pending_request_cannot_change(client, staff, requested):
    client.force_login(staff)
    response = client.post(
        f"/api/v1/memberships/{requested.pk}/role/", {"role": "reviewer"}, content_type="application/json"
    )
    assert response.status_code == 409


@pytest.mark.parametrize("rows", [3, 30])
def test_hub_membership_list_query_count_does_not_grow(client, staff, hub, rows, django_assert_num_queries):
    for i in range(rows):
        m = MembershipFactory(hub=hub, status=S.REQUESTED if i % 2 else S.ACTIVE)
        if i % 3 == 0:
            services.profile_update(user=m.user, organisation=OrganisationFactory())
    client.force_login(staff)
    # session, user, MFA check, staff's roles, hub, count, memberships with people and hub
    with django_assert_num_queries(7):
        response = client.get("/api/v1/hubs/lyon/memberships/")
    assert response.json()["count"] == rows + 1


# --- API keys -----------------------------------------------------------------------------


def test_write_key_of_staff_approves_and_read_key_cannot(client, staff, hub, requested):
    _, read = make_api_key(hub=hub, user=staff, scope="read")
    _, write = make_api_key(hub=hub, user=staff, scope="write")
    url = f"/api/v1/memberships/{requested.pk}/approve/"
    refused = client.post(url, headers=bearer(read))
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    requested.refresh_from_db()
    assert requested.status == S.REQUESTED
    assert client.post(url, headers=bearer(write)).status_code == 200
    requested.refresh_from_db()
    assert requested.status == S.ACTIVE
    assert requested.decided_by == staff


def test_read_key_can_read(client, staff, hub):
    _, read = make_api_key(hub=hub, user=staff, scope="read")
    assert client.get("/api/v1/hubs/lyon/memberships/", headers=bearer(read)).status_code == 200


def test_revoked_unknown_and_malformed_keys_get_401(client, member, hub):
    key, plaintext = make_api_key(hub=hub, user=member)
    assert client.get("/api/v1/me/", headers=bearer(plaintext)).status_code == 200
    services.api_key_revoke(key=key, acting_user=member)
    response = client.get("/api/v1/me/", headers=bearer(plaintext))
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has been revoked."
    assert response["WWW-Authenticate"] == "Bearer"
    wrong_secret = plaintext[:-4] + "abcd"
    assert client.get("/api/v1/me/", headers=bearer(wrong_secret)).status_code == 401
    assert client.get("/api/v1/me/", headers=bearer("not-a-key")).status_code == 401
    # even public endpoints refuse a bad key rather than silently ignoring it
    assert client.get("/api/v1/hubs/", headers=bearer(plaintext)).status_code == 401


def test_disabled_partner_and_inactive_owner_get_401(client, member, hub, partner_key):
    key, plaintext = partner_key
    PartnerSystem.objects.filter(pk=key.partner_id).update(active=False)
    assert client.get("/api/v1/hubs/", headers=bearer(plaintext)).status_code == 401
    _, personal = make_api_key(hub=hub, user=member)
    member.is_active = False
    member.save()
    assert client.get("/api/v1/me/", headers=bearer(personal)).status_code == 401


def test_key_records_when_it_was_last_used(client, member, hub):
    key, plaintext = make_api_key(hub=hub, user=member)
    assert key.last_used_at is None
    before = timezone.now()
    client.get("/api/v1/memberships/", headers=bearer(plaintext))
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.last_used_at >= before


def test_personal_key_scoped_to_hub_a_cannot_see_hub_b_staff_list(client, staff, hub, other_hub):
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    _, plaintext = make_api_key(hub=hub, user=staff)
    client.force_login(staff)
    assert client.get("/api/v1/hubs/helsinki/memberships/").status_code == 200  # the session sees both
    client.logout()
    assert client.get("/api/v1/hubs/helsinki/memberships/", headers=bearer(plaintext)).status_code == 404
    assert client.get("/api/v1/hubs/lyon/memberships/", headers=bearer(plaintext)).status_code == 200
    mine = client.get("/api/v1/memberships/", headers=bearer(plaintext)).json()["results"]
    assert [m["hub"] for m in mine] == ["lyon"]


def test_personal_key_of_staff_cannot_decide_another_hubs_membership(client, staff, hub, other_hub):
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    pending = MembershipFactory(hub=other_hub, status=S.REQUESTED)
    _, plaintext = make_api_key(hub=hub, user=staff, scope="write")
    assert client.post(f"/api/v1/memberships/{pending.pk}/approve/", headers=bearer(plaintext)).status_code == 404
    pending.refresh_from_db()
    assert pending.status == S.REQUESTED


@pytest.mark.parametrize("rows", [3, 30])
def test_key_authenticated_list_query_count_does_not_grow(client, member, hub, rows, django_assert_num_queries):
    for other in HubFactory.create_batch(rows):
        MembershipFactory(user=member, hub=other)
    _, plaintext = make_api_key(hub=hub, user=member)
    client.get("/api/v1/memberships/", headers=bearer(plaintext))  # records last use
    with django_assert_num_queries(3):  # key with owner, count, memberships
        response = client.get("/api/v1/memberships/", headers=bearer(plaintext))
    assert response.json()["count"] == 1


# --- Throttling ---------------------------------------------------------------------------


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})


def test_each_key_is_throttled_on_its_own(client, member, hub, three_per_minute):
    _, first = make_api_key(hub=hub, user=member, name="one")
    _, second = make_api_key(hub=hub, user=member, name="two")
    for _ in range(3):
        assert client.get("/api/v1/hubs/", headers=bearer(first)).status_code == 200
    throttled = client.get("/api/v1/hubs/", headers=bearer(first))
    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"].lower()
    assert int(throttled["Retry-After"]) > 0
    assert client.get("/api/v1/hubs/", headers=bearer(second)).status_code == 200


def test_anonymous_callers_are_throttled_too(client, db, three_per_minute):
    for _ in range(3):
        assert client.get("/api/v1/hubs/").status_code == 200
    assert client.get("/api/v1/hubs/").status_code == 429


# --- Errors -------------------------------------------------------------------------------


def test_unknown_objects_are_json_404(client, staff):
    client.force_login(staff)
    response = client.post("/api/v1/memberships/999999/approve/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_schema_is_served(client, db):
    response = client.get(reverse("schema"), headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/memberships/{id}/approve/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_api_key_plaintext_is_not_stored(member, hub):
    key, plaintext = make_api_key(hub=hub, user=member)
    secret = plaintext.split("_", 2)[2]
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in {stored.secret_hash, stored.lookup, stored.name}
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_mfa_fixture_staff_can_use_api(client, hub):
    """A newly promoted staff member who turns on MFA is let in."""
    user = verified_user()
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    client.force_login(user)
    assert client.get("/api/v1/hubs/lyon/memberships/").status_code == 403
    enable_mfa(user)
    assert client.get("/api/v1/hubs/lyon/memberships/").status_code == 200
