"""Hub staff invite people by e-mail; the link lets exactly the invited person join."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.utils import timezone

from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import Invitation, Membership, MembershipStatus, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory

S = MembershipStatus
LINK_RE = re.compile(r"https?://\S+/invitations/\S+/")


def link_path(message) -> str:
    match = LINK_RE.search(message.body)
    assert match, message.body
    return urlparse(match.group(0)).path


@pytest.fixture
def invite_sent(staff_client, hub, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/staff/hubs/lyon/invite/",
            {"email": "Grace@Example.org", "role": "reviewer", "message": "Come review for us"},
            follow=True,
        )
    assert "Invitation sent to Grace@example.org." in response.content.decode()
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def test_staff_invite_by_email_sends_a_working_link(invite_sent, client, hub):
    client.logout()
    assert invite_sent.to == ["Grace@example.org"]
    assert "Lyon AI Gigafactory" in invite_sent.subject
    assert "Sam Staff invites you to join Lyon AI Gigafactory" in invite_sent.body
    assert "as reviewer" in invite_sent.body
    assert "Come review for us" in invite_sent.body
    invitation = Invitation.objects.get()
    assert invitation.role == Role.REVIEWER
    assert AuditEvent.objects.filter(action="invitation.created", object_id=str(invitation.pk)).exists()
    page = client.get(link_path(invite_sent))
    assert page.status_code == 200
    html = page.content.decode()
    assert "You are invited to join <strong>Lyon AI Gigafactory</strong> as reviewer" in html
    assert "Sign up or log in with <strong>Grace@example.org</strong>" in html


def test_invited_person_accepts_and_becomes_active_with_the_role(
    invite_sent, client, hub, staff, django_capture_on_commit_callbacks
):
    grace = verified_user(email="grace@example.org", name="Grace Hopper")
    client.force_login(grace)
    path = link_path(invite_sent)
    assert "Accept and join" in client.get(path).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, follow=True)
    assert response.redirect_chain == [("/hubs/lyon/dashboard/", 302)]
    assert "Welcome to Lyon AI Gigafactory!" in response.content.decode()
    membership = Membership.objects.get(user=grace, hub=hub)
    assert membership.status == S.ACTIVE
    assert membership.role == Role.REVIEWER
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == grace
    assert staff.notifications.filter(kind="invitation.accepted").exists()
    # the link has done its job: using it again changes nothing
    again = client.post(path, follow=True)
    assert again.redirect_chain == [("/hubs/lyon/dashboard/", 302)]
    assert Membership.objects.filter(user=grace).count() == 1


def test_someone_with_another_email_is_refused_clearly(invite_sent, client, hub):
    mallory = verified_user(email="mallory@example.org")
    client.force_login(mallory)
    response = client.post(link_path(invite_sent), follow=True)
    assert response.status_code == 200
    assert "This invitation is for Grace@example.org; you are signed in as mallory@example.org." in (
        response.content.decode()
    )
    assert not Membership.objects.filter(user=mallory).exists()
    assert Invitation.objects.get().accepted_at is None


def test_used_invitation_cannot_be_used_by_someone_else(invite_sent, client, hub):
    grace = verified_user(email="grace@example.org")
    client.force_login(grace)
    client.post(link_path(invite_sent))
    other = verified_user(email="other@example.org")
    client.force_login(other)
    page = client.get(link_path(invite_sent))
    assert "This invitation has been used." in page.content.decode()
    response = client.post(link_path(invite_sent), follow=True)
    assert "already been used" in response.content.decode()
    assert not Membership.objects.filter(user=other).exists()


def test_accepting_upgrades_a_pending_request(invite_sent, client, hub):
    grace = verified_user(email="grace@example.org")
    pending = services.membership_request(user=grace, hub=hub, motivation="hi")
    client.force_login(grace)
    client.post(link_path(invite_sent))
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE
    assert pending.role == Role.REVIEWER


def test_suspended_member_cannot_use_an_invitation_to_come_back(invite_sent, client, hub):
    grace = verified_user(email="grace@example.org")
    suspended = MembershipFactory(user=grace, hub=hub, status=S.SUSPENDED)
    client.force_login(grace)
    response = client.post(link_path(invite_sent), follow=True)
    assert "Your membership of this hub is suspended." in response.content.decode()
    suspended.refresh_from_db()
    assert suspended.status == S.SUSPENDED


def test_revoked_link_shows_an_error_page(invite_sent, client, staff_client, hub):
    invitation = Invitation.objects.get()
    html = staff_client.get("/staff/hubs/lyon/members/").content.decode()
    assert "Grace@example.org (reviewer)" in html
    response = staff_client.post(f"/staff/invitations/{invitation.pk}/revoke/", follow=True)
    assert "Invitation of Grace@example.org withdrawn." in response.content.decode()
    grace = verified_user(email="grace@example.org")
    client.force_login(grace)
    page = client.get(link_path(invite_sent))
    assert page.status_code == 400
    assert "Invitation not valid" in page.content.decode()
    assert "This invitation was withdrawn." in page.content.decode()
    assert client.post(link_path(invite_sent)).status_code == 400
    assert not Membership.objects.filter(user=grace).exists()


def test_expired_link_shows_an_error_page(invite_sent, client, hub):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    grace = verified_user(email="grace@example.org")
    client.force_login(grace)
    page = client.get(link_path(invite_sent))
    assert page.status_code == 400
    assert "This invitation has expired; ask the hub for a new one." in page.content.decode()
    assert "Accept and join" not in page.content.decode()
    assert client.post(link_path(invite_sent)).status_code == 400
    assert not Membership.objects.filter(user=grace).exists()


def test_tampered_link_shows_an_error_page(client, db):
    page = client.get("/invitations/not-a-real-token/")
    assert page.status_code == 400
    assert "This invitation link is invalid or has expired." in page.content.decode()


def test_new_invitation_replaces_the_open_one(client, staff, hub, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(hub=hub, email="grace@example.org", acting_user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(hub=hub, email="GRACE@example.org", role=Role.REVIEWER, acting_user=staff)
    first, second = Invitation.objects.order_by("pk")
    assert first.revoked_at is not None
    assert second.is_open
    old_mail, new_mail = mail.outbox
    assert client.get(link_path(old_mail)).status_code == 400
    assert client.get(link_path(new_mail)).status_code == 200


def test_staff_cannot_invite_above_their_role_or_to_another_hub(staff_client, other_hub):
    response = staff_client.post("/staff/hubs/lyon/invite/", {"email": "x@example.org", "role": "admin"}, follow=True)
    assert "You can only invite people to roles up to your own." in response.content.decode()
    assert (
        staff_client.post("/staff/hubs/helsinki/invite/", {"email": "y@example.org", "role": "member"}).status_code
        == 404
    )
    assert not Invitation.objects.exists()


def test_inviting_an_active_member_is_refused(staff_client, member):
    response = staff_client.post("/staff/hubs/lyon/invite/", {"email": member.email, "role": "member"}, follow=True)
    assert "is already an active member of Lyon AI Gigafactory" in response.content.decode()
    assert not Invitation.objects.exists()


def test_bad_email_is_reported(staff_client):
    response = staff_client.post("/staff/hubs/lyon/invite/", {"email": "not-an-email", "role": "member"}, follow=True)
    assert "email: Enter a valid email address." in response.content.decode()


def test_staff_of_another_hub_cannot_revoke(client, other_staff, staff, hub):
    invitation = services.invitation_create(hub=hub, email="g@example.org", acting_user=staff)
    client.force_login(other_staff)
    assert client.post(f"/staff/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.is_open


def test_invited_staff_get_the_admin_and_must_turn_on_mfa(client, staff, hub):
    invitation = services.invitation_create(hub=hub, email="kay@example.org", role=Role.STAFF, acting_user=staff)
    kay = verified_user(email="kay@example.org")
    client.force_login(kay)
    client.post(f"/invitations/{services.invitation_token(invitation)}/")
    kay.refresh_from_db()
    assert kay.is_staff is True
    assert Membership.objects.get(user=kay, hub=hub).role == Role.STAFF
    response = client.get("/staff/hubs/lyon/members/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"
