"""A person's own data: download it all as JSON, delete the account, and an audit trail that survives."""

import json
import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import DatabaseError, connection, transaction

from gigafactory.audit import audit_record
from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import ApiKey, Invitation, Membership, MembershipStatus, Notification, Profile, User
from tests.conftest import enable_mfa, verified_user
from tests.factories import OrganisationFactory, make_api_key

S = MembershipStatus


@pytest.fixture
def busy_member(hub, other_hub, staff):
    """A member with a profile, two hubs, a key, notifications and some history."""
    user = verified_user(email="ada@example.org", name="Ada Lovelace")
    services.profile_update(
        user=user,
        orcid="0000-0002-1825-0097",
        organisation=OrganisationFactory(name="Analytical Engines Ltd"),
        affiliation="Engines",
        expertise="Numbers",
    )
    membership = services.membership_request(user=user, hub=hub, motivation="Bernoulli numbers")
    services.membership_approve(membership=membership, acting_user=staff)
    services.membership_request(user=user, hub=other_hub, motivation="Looms")
    make_api_key(hub=hub, user=user, name="notebook")
    enable_mfa(user)
    return user


# --- Export -------------------------------------------------------------------------------


def test_export_is_a_json_download_with_everything(client, busy_member):
    client.force_login(busy_member)
    response = client.get("/account/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="gigafactory-data-')
    data = json.loads(response.content)
    assert data["account"]["email"] == "ada@example.org"
    assert data["account"]["name"] == "Ada Lovelace"
    assert data["profile"]["orcid"] == "0000-0002-1825-0097"
    assert data["profile"]["organisation"] == "Analytical Engines Ltd"
    assert data["email_addresses"] == [{"email": "ada@example.org", "verified": True, "primary": True}]
    memberships = {m["hub"]: m for m in data["memberships"]}
    assert memberships["Lyon AI Gigafactory"]["status"] == "active"
    assert memberships["Helsinki AI Gigafactory"]["status"] == "requested"
    assert memberships["Helsinki AI Gigafactory"]["motivation"] == "Looms"
    assert [k["name"] for k in data["api_keys"]] == ["notebook"]
    assert [n["title"] for n in data["notifications"]] == ["Welcome to Lyon AI Gigafactory: your membership is active"]
    actions = [a["action"] for a in data["activity"]]
    assert actions == ["profile.updated", "membership.requested", "membership.requested", "api_key.created"]


def test_export_never_contains_key_secrets_or_password(client, busy_member):
    key = ApiKey.objects.get(user=busy_member)
    client.force_login(busy_member)
    text = client.get("/account/export/").content.decode()
    assert key.secret_hash not in text
    assert busy_member.password not in text


def test_export_needs_login(client, db):
    assert client.get("/account/export/").status_code == 302


def test_export_is_linked_from_every_page_when_signed_in(client, member):
    client.force_login(member)
    assert 'href="/account/export/"' in client.get("/").content.decode()


# --- Deletion -----------------------------------------------------------------------------


def test_delete_needs_the_word_delete(client, busy_member):
    client.force_login(busy_member)
    response = client.post("/account/delete/", {"confirm": "yes"})
    assert response.status_code == 200
    assert "Type DELETE in capitals to confirm." in response.content.decode()
    busy_member.refresh_from_db()
    assert busy_member.is_active


def test_delete_anonymises_and_removes_personal_data(client, busy_member, other_hub, other_staff):
    user_pk = busy_member.pk
    history = list(AuditEvent.objects.filter(actor=busy_member).values_list("pk", flat=True))
    assert history
    services.invitation_create(hub=other_hub, email="ada@example.org", acting_user=other_staff)
    client.force_login(busy_member)
    response = client.post("/account/delete/", {"confirm": "DELETE"}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "Your account was deleted and your personal data removed." in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated

    user = User.objects.get(pk=user_pk)
    assert user.email == f"deleted-{user_pk}@deleted.invalid"
    assert user.name == ""
    assert user.is_active is False
    assert user.has_usable_password() is False
    assert not Profile.objects.filter(user=user).exists()
    assert not ApiKey.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()
    assert not Notification.objects.filter(user=user).exists()
    assert not User.objects.filter(email__iexact="ada@example.org").exists()
    assert set(Membership.objects.filter(user=user).values_list("status", flat=True)) == {S.LEFT}
    assert set(Membership.objects.filter(user=user).values_list("motivation", flat=True)) == {""}
    assert Invitation.objects.get(email="ada@example.org").revoked_at is not None

    # The audit trail still points at the same (now anonymous) user row.
    assert set(AuditEvent.objects.filter(pk__in=history).values_list("actor_id", flat=True)) == {user_pk}
    deleted = AuditEvent.objects.get(action="account.deleted")
    assert deleted.actor_id == user_pk
    assert deleted.object_id == str(user_pk)
    # Events written by the deletion itself carry no personal data.
    for event in AuditEvent.objects.filter(created_at__gte=deleted.created_at):
        assert "ada@example.org" not in event.object_repr
        assert "Ada Lovelace" not in event.object_repr


def test_deleted_account_cannot_log_in_and_its_keys_stop_working(client, busy_member, hub):
    _, plaintext = make_api_key(hub=hub, user=busy_member, name="second")
    services.account_delete(user=busy_member, acting_user=busy_member)
    assert client.get("/api/v1/me/", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
    response = client.post("/accounts/login/", {"login": "ada@example.org", "password": "correct horse battery"})
    assert not response.wsgi_request.user.is_authenticated


def test_email_is_free_for_a_new_signup_after_deletion(busy_member):
    services.account_delete(user=busy_member, acting_user=busy_member)
    newcomer = verified_user(email="ada@example.org")
    assert newcomer.pk != busy_member.pk


def test_someone_else_cannot_delete_an_account(busy_member, member):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.account_delete(user=busy_member, acting_user=member)
    busy_member.refresh_from_db()
    assert busy_member.is_active


def test_deleted_staff_lose_admin_access(client, staff):
    services.account_delete(user=staff, acting_user=staff)
    staff.refresh_from_db()
    assert staff.is_staff is False
    assert not Membership.objects.filter(user=staff, status=S.ACTIVE).exists()


# --- The audit trail is append-only -------------------------------------------------------


def test_audit_events_cannot_be_changed_or_removed(hub, staff):
    event = audit_record(hub, "hub.tested", actor=staff)
    event.action = "hub.forged"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    if connection.vendor == "postgresql":
        # The database refuses too, whatever path the change takes.
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="hub.forged")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM gigafactory_auditevent")
    else:
        # SQLite has no trigger: the model is the guard.
        assert connection.vendor == "sqlite"
    event.refresh_from_db()
    assert event.action == "hub.tested"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_event_is_written_in_the_same_transaction_as_the_change(hub, member):
    membership = member.memberships.get()

    def leave_then_fail():
        with transaction.atomic():
            services.membership_leave(membership=membership, acting_user=member)
            assert AuditEvent.objects.filter(action="membership.leave").exists()
            raise RuntimeError("something later in the request fails")

    with pytest.raises(RuntimeError):
        leave_then_fail()
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    assert not AuditEvent.objects.filter(action="membership.leave").exists()


# --- Sign-up ------------------------------------------------------------------------------


def test_sign_up_verify_email_and_land_on_the_dashboard(client, db):
    from django.core import mail

    response = client.post(
        "/accounts/signup/",
        {"email": "newton@example.org", "password1": "apples fall down", "password2": "apples fall down"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="newton@example.org")
    assert not EmailAddress.objects.get(user=user).verified
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", message.body).group(1)
    assert "Confirm" in client.get(link).content.decode()
    confirmed = client.post(link, follow=True)
    assert EmailAddress.objects.get(user=user).verified
    assert confirmed.redirect_chain[-1][0] == "/dashboard/"
    assert "Hello newton" in confirmed.content.decode()
