"""The Django admin as hub staff and superusers use it: scoped lists, service-backed actions."""

import hashlib
import re

import pytest
from django.contrib.messages import get_messages

from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import ApiKey, Invitation, Membership, MembershipStatus, PartnerSystem, Role, User
from tests.conftest import enable_mfa, verified_user
from tests.factories import MembershipFactory, OrganisationFactory, make_api_key

S = MembershipStatus
KEY_RE = re.compile(r"(gf_([0-9a-f]{12})_([A-Za-z0-9_-]{20,}))")


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def changelist_rows(response):
    return list(response.context["cl"].result_list)


@pytest.fixture
def superuser(db):
    user = User.objects.create_superuser(email="root@example.org", password="x" * 12)
    enable_mfa(user)
    return user


@pytest.fixture
def both_hubs(hub, other_hub, staff, other_staff):
    """Each hub with a pending request, a partner system with a key, and audit events."""
    data = {}
    for h, runner in [(hub, staff), (other_hub, other_staff)]:
        pending = services.membership_request(user=verified_user(), hub=h, motivation="please")
        partner = services.partner_system_create(hub=h, name=f"{h.city} HPC", acting_user=runner)
        key, _ = make_api_key(hub=h, partner=partner)
        data[h.slug] = {"pending": pending, "partner": partner, "key": key}
    return data


# --- Scoping ------------------------------------------------------------------------------


def test_staff_see_only_their_hubs_memberships(staff_client, both_hubs, hub):
    response = staff_client.get("/admin/hubs/membership/")
    assert response.status_code == 200
    rows = changelist_rows(response)
    assert rows
    assert {m.hub for m in rows} == {hub}
    assert both_hubs["helsinki"]["pending"] not in rows
    assert "Helsinki" not in response.content.decode()


def test_staff_see_only_their_hubs_partner_systems_and_keys(staff_client, both_hubs):
    partners = changelist_rows(staff_client.get("/admin/hubs/partnersystem/"))
    assert partners == [both_hubs["lyon"]["partner"]]
    keys = changelist_rows(staff_client.get("/admin/hubs/apikey/"))
    assert keys == [both_hubs["lyon"]["key"]]


def test_staff_see_only_their_hubs_audit_events(staff_client, both_hubs, hub):
    response = staff_client.get("/admin/gigafactory/auditevent/")
    assert response.status_code == 200
    rows = changelist_rows(response)
    assert rows
    assert {e.hub_id for e in rows} == {hub.pk}
    assert AuditEvent.objects.exclude(hub=hub).exists()


def test_staff_cannot_open_another_hubs_rows(staff_client, both_hubs):
    theirs = both_hubs["helsinki"]
    for url in [
        f"/admin/hubs/membership/{theirs['pending'].pk}/change/",
        f"/admin/hubs/partnersystem/{theirs['partner'].pk}/change/",
        f"/admin/hubs/apikey/{theirs['key'].pk}/change/",
    ]:
        response = staff_client.get(url, follow=True)
        assert "doesn\u2019t exist" in " ".join(messages_of(response)), url


def test_superuser_sees_everything(client, superuser, both_hubs):
    client.force_login(superuser)
    rows = changelist_rows(client.get("/admin/hubs/membership/"))
    assert {m.hub.slug for m in rows} == {"lyon", "helsinki"}
    assert len(changelist_rows(client.get("/admin/hubs/partnersystem/"))) == 2
    assert len(changelist_rows(client.get("/admin/hubs/apikey/"))) == 2
    assert changelist_rows(client.get("/admin/gigafactory/auditevent/"))


def test_members_cannot_enter_the_admin(client, member):
    client.force_login(member)
    response = client.get("/admin/hubs/membership/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_hub_filter_offers_only_the_staff_members_hubs(staff_client, both_hubs):
    html = staff_client.get("/admin/hubs/membership/").content.decode()
    assert "Lyon AI Gigafactory" in html
    assert "Helsinki AI Gigafactory" not in html


@pytest.mark.parametrize("rows", [3, 30])
def test_membership_changelist_query_count_does_not_grow(staff_client, hub, other_hub, rows, django_assert_num_queries):
    for i in range(rows):
        m = MembershipFactory(hub=hub, status=S.REQUESTED if i % 2 else S.ACTIVE)
        if i % 3 == 0:
            services.profile_update(user=m.user, organisation=OrganisationFactory())
    MembershipFactory.create_batch(3, hub=other_hub)
    staff_client.get("/admin/hubs/membership/")  # warm the content-type and site caches
    # session, user, MFA check, roles, hub filter choices, filtered count, full count,
    # Django permissions of the user and of their groups (other apps' menus), rows with
    # people and hubs, unread count (navigation)
    with django_assert_num_queries(11):
        response = staff_client.get("/admin/hubs/membership/")
    assert response.context["cl"].result_count == rows + 1


# --- Actions call the services ------------------------------------------------------------


def test_bulk_approve_calls_the_service(staff_client, staff, hub, django_capture_on_commit_callbacks):
    pending = [services.membership_request(user=verified_user(), hub=hub, motivation="x") for _ in range(3)]
    already = MembershipFactory(hub=hub, status=S.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/hubs/membership/",
            {"action": "approved_selected", "_selected_action": [m.pk for m in [*pending, already]], "index": "0"},
            follow=True,
        )
    assert response.status_code == 200
    notes = messages_of(response)
    assert "3 approved." in notes
    assert any("Cannot approve" in n for n in notes)
    for membership in pending:
        membership.refresh_from_db()
        assert membership.status == S.ACTIVE
        assert membership.decided_by == staff
        event = AuditEvent.objects.get(action="membership.approve", object_id=str(membership.pk))
        assert event.actor == staff
        assert event.hub == hub
        assert membership.user.notifications.filter(kind="membership.approved").exists()


def test_bulk_reject_and_suspend(staff_client, hub):
    pending = MembershipFactory(hub=hub, status=S.REQUESTED)
    active = MembershipFactory(hub=hub, status=S.ACTIVE)
    staff_client.post(
        "/admin/hubs/membership/", {"action": "rejected_selected", "_selected_action": [pending.pk], "index": "0"}
    )
    staff_client.post(
        "/admin/hubs/membership/", {"action": "suspended_selected", "_selected_action": [active.pk], "index": "0"}
    )
    pending.refresh_from_db()
    active.refresh_from_db()
    assert pending.status == S.REJECTED
    assert active.status == S.SUSPENDED
    assert AuditEvent.objects.filter(action="membership.reject", object_id=str(pending.pk)).exists()
    assert AuditEvent.objects.filter(action="membership.suspend", object_id=str(active.pk)).exists()


def test_bulk_action_cannot_reach_another_hubs_rows(staff_client, other_hub):
    theirs = MembershipFactory(hub=other_hub, status=S.REQUESTED)
    staff_client.post(
        "/admin/hubs/membership/", {"action": "approved_selected", "_selected_action": [theirs.pk], "index": "0"}
    )
    theirs.refresh_from_db()
    assert theirs.status == S.REQUESTED


def test_membership_status_is_read_only_in_the_form(staff_client, hub):
    pending = MembershipFactory(hub=hub, status=S.REQUESTED)
    response = staff_client.post(
        f"/admin/hubs/membership/{pending.pk}/change/", {"status": "active", "decision_note": "note", "_save": "Save"}
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == S.REQUESTED


# --- Partner systems and keys -------------------------------------------------------------


def test_partner_system_created_in_the_admin_is_audited(staff_client, staff, hub):
    response = staff_client.post(
        "/admin/hubs/partnersystem/add/",
        {"name": "GENCI", "hub": hub.pk, "kind": "hpc_centre", "contact_email": "", "active": "on", "_save": "Save"},
    )
    assert response.status_code == 302
    partner = PartnerSystem.objects.get(name="GENCI")
    assert AuditEvent.objects.filter(action="partner.created", object_id=str(partner.pk), actor=staff).exists()


def test_staff_cannot_create_a_partner_system_for_another_hub(staff_client, other_hub):
    response = staff_client.post(
        "/admin/hubs/partnersystem/add/",
        {"name": "Sneaky", "hub": other_hub.pk, "kind": "other", "active": "on", "_save": "Save"},
    )
    assert response.status_code == 200
    assert "hub" in response.context["adminform"].form.errors
    assert not PartnerSystem.objects.filter(name="Sneaky").exists()


def test_partner_key_is_shown_once_and_stored_hashed(staff_client, staff, hub):
    partner = services.partner_system_create(hub=hub, name="CINES", acting_user=staff)
    response = staff_client.post(
        "/admin/hubs/apikey/add/", {"name": "usage reporter", "partner": partner.pk, "scope": "write"}, follow=True
    )
    assert response.status_code == 200
    notes = messages_of(response)
    assert any(re.search(r"usage reporter \(gf_[0-9a-f]{12}_…\)</a>” was added successfully", n) for n in notes), notes
    shown = [KEY_RE.search(m) for m in notes]
    shown = [m for m in shown if m]
    assert len(shown) == 1
    plaintext, lookup, secret = shown[0].groups()
    key = ApiKey.objects.get(lookup=lookup)
    assert key.partner == partner
    assert key.hub == hub
    assert key.scope == "write"
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert len(key.secret_hash) == 64
    assert secret not in key.secret_hash
    # shown once: the key's page does not show it again
    page = staff_client.get(f"/admin/hubs/apikey/{key.pk}/change/").content.decode()
    assert secret not in page
    assert lookup in page
    # and it works
    assert staff_client.get("/api/v1/hubs/", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200


def test_key_without_a_partner_is_a_form_error(staff_client):
    response = staff_client.post("/admin/hubs/apikey/add/", {"name": "orphan", "scope": "read"})
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_staff_cannot_make_keys_for_another_hubs_partner(staff_client, other_hub, other_staff):
    partner = services.partner_system_create(hub=other_hub, name="CSC", acting_user=other_staff)
    response = staff_client.post("/admin/hubs/apikey/add/", {"name": "x", "partner": partner.pk, "scope": "read"})
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_revoke_keys_action(staff_client, staff, hub):
    partner = services.partner_system_create(hub=hub, name="CINES", acting_user=staff)
    key, plaintext = make_api_key(hub=hub, partner=partner)
    staff_client.post("/admin/hubs/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk], "index": "0"})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key.revoked", object_id=str(key.pk)).exists()
    assert staff_client.get("/api/v1/hubs/", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401


# --- Audit trail --------------------------------------------------------------------------


def test_audit_trail_admin_is_read_only(staff_client, hub, staff):
    membership = services.membership_request(user=verified_user(), hub=hub, motivation="x")
    event = AuditEvent.objects.get(object_id=str(membership.pk), action="membership.requested")
    assert staff_client.get("/admin/gigafactory/auditevent/add/").status_code == 403
    page = staff_client.get(f"/admin/gigafactory/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "membership.requested" in html
    changed = staff_client.post(
        f"/admin/gigafactory/auditevent/{event.pk}/change/", {"action": "forged", "object_repr": "x"}
    )
    assert changed.status_code == 403
    assert staff_client.post(f"/admin/gigafactory/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    listing = staff_client.get("/admin/gigafactory/auditevent/").content.decode()
    assert "delete_selected" not in listing
    event.refresh_from_db()
    assert event.action == "membership.requested"


def test_superuser_cannot_change_audit_events_either(client, superuser, hub, staff):
    services.membership_request(user=verified_user(), hub=hub, motivation="x")
    event = AuditEvent.objects.first()
    client.force_login(superuser)
    assert client.get("/admin/gigafactory/auditevent/add/").status_code == 403
    assert client.post(f"/admin/gigafactory/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- Invitations and CSV ------------------------------------------------------------------


def test_invitation_from_the_admin_sends_mail(staff_client, hub, django_capture_on_commit_callbacks):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/hubs/invitation/add/",
            {"hub": hub.pk, "email": "guest@example.org", "role": "reviewer", "message": "Join us"},
        )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["guest@example.org"]]


def test_csv_export_is_scoped_and_safe(staff_client, hub, other_hub):
    user = verified_user(email="=cmd@example.org", name="=HYPERLINK()")
    mine = MembershipFactory(hub=hub, user=user)
    theirs = MembershipFactory(hub=other_hub)
    response = staff_client.post(
        "/admin/hubs/membership/",
        {"action": "export_csv", "_selected_action": [mine.pk, theirs.pk], "index": "0"},
    )
    assert response["Content-Type"] == "text/csv"
    text = response.content.decode()
    assert "'=HYPERLINK()" in text
    assert "Helsinki" not in text


def test_role_change_is_not_possible_from_membership_admin(staff_client, member):
    membership = member.memberships.get()
    staff_client.post(
        f"/admin/hubs/membership/{membership.pk}/change/", {"role": Role.ADMIN, "decision_note": "", "_save": "Save"}
    )
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER
    assert Membership.objects.filter(role=Role.ADMIN).count() == 0


def test_invitation_problems_are_form_errors_in_the_admin(staff_client, hub, member):
    taken = staff_client.post(
        "/admin/hubs/invitation/add/", {"hub": hub.pk, "email": member.email, "role": "member", "message": ""}
    )
    assert taken.status_code == 200
    form = taken.context["adminform"].form
    assert form.errors["email"] == [f"{member.email} is already an active member of Lyon AI Gigafactory."]
    too_high = staff_client.post(
        "/admin/hubs/invitation/add/", {"hub": hub.pk, "email": "new@example.org", "role": "admin", "message": ""}
    )
    assert too_high.status_code == 200
    assert too_high.context["adminform"].form.errors["role"] == ["You can only invite people to roles up to your own."]
    assert not Invitation.objects.exists()
