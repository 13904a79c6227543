import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import Membership, MembershipStatus, Notification, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory

S = MembershipStatus


@pytest.fixture
def applicant(db):
    return verified_user(name="Ana Applicant")


def test_request_creates_pending_membership_audits_and_tells_staff(
    applicant, hub, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.membership_request(user=applicant, hub=hub, motivation="Medical imaging")
    assert membership.status == S.REQUESTED
    assert AuditEvent.objects.filter(action="membership.requested", object_id=str(membership.pk)).exists()
    note = Notification.objects.get(user=staff)
    assert note.title == "Ana Applicant asks to join Lyon AI Gigafactory"
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert note.emailed_at is not None


def test_approve_activates_and_notifies_member(applicant, hub, staff, django_capture_on_commit_callbacks):
    membership = services.membership_request(user=applicant, hub=hub, motivation="x")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_approve(membership=membership, acting_user=staff, note="Welcome!")
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    assert membership.decided_by == staff
    assert applicant.notifications.get().title.startswith("Welcome to Lyon AI Gigafactory")
    event = AuditEvent.objects.get(action="membership.approve")
    assert event.actor == staff
    assert event.before == {"status": "requested", "role": "member"}
    assert event.after["status"] == "active"


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (S.REQUESTED, services.membership_approve, S.ACTIVE),
        (S.REQUESTED, services.membership_reject, S.REJECTED),
        (S.ACTIVE, services.membership_suspend, S.SUSPENDED),
        (S.SUSPENDED, services.membership_reinstate, S.ACTIVE),
    ],
)
def test_allowed_staff_transitions(hub, staff, start, action, end):
    membership = MembershipFactory(hub=hub, status=start)
    action(membership=membership, acting_user=staff)
    membership.refresh_from_db()
    assert membership.status == end


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (S.ACTIVE, services.membership_approve),
        (S.REJECTED, services.membership_approve),
        (S.LEFT, services.membership_approve),
        (S.ACTIVE, services.membership_reject),
        (S.SUSPENDED, services.membership_reject),
        (S.REQUESTED, services.membership_suspend),
        (S.LEFT, services.membership_suspend),
        (S.ACTIVE, services.membership_reinstate),
        (S.REQUESTED, services.membership_reinstate),
    ],
)
def test_forbidden_staff_transitions_raise_and_change_nothing(hub, staff, start, action):
    membership = MembershipFactory(hub=hub, status=start)
    with pytest.raises(InvalidTransition):
        action(membership=membership, acting_user=staff)
    membership.refresh_from_db()
    assert membership.status == start
    assert not AuditEvent.objects.filter(object_id=str(membership.pk)).exists()


def test_staff_of_another_hub_cannot_decide(hub, other_staff):
    membership = MembershipFactory(hub=hub, status=S.REQUESTED)
    with pytest.raises(PermissionDenied):
        services.membership_approve(membership=membership, acting_user=other_staff)
    membership.refresh_from_db()
    assert membership.status == S.REQUESTED


def test_request_twice_is_refused_but_rejected_member_may_ask_again(applicant, hub, staff):
    membership = services.membership_request(user=applicant, hub=hub, motivation="first")
    with pytest.raises(InvalidTransition):
        services.membership_request(user=applicant, hub=hub, motivation="again")
    services.membership_reject(membership=membership, acting_user=staff)
    again = services.membership_request(user=applicant, hub=hub, motivation="second try")
    assert again.pk == membership.pk
    assert again.status == S.REQUESTED
    assert again.motivation == "second try"


def test_member_leaves_and_last_admin_cannot(hub, member):
    membership = member.memberships.get()
    services.membership_leave(membership=membership, acting_user=member)
    membership.refresh_from_db()
    assert membership.status == S.LEFT

    admin_membership = MembershipFactory(hub=hub, role=Role.ADMIN)
    with pytest.raises(InvalidTransition, match="last admin"):
        services.membership_leave(membership=admin_membership, acting_user=admin_membership.user)


def test_role_change_grants_admin_access_and_is_limited_to_own_rank(hub, staff):
    membership = MembershipFactory(hub=hub, role=Role.MEMBER)
    services.membership_change_role(membership=membership, role=Role.STAFF, acting_user=staff)
    membership.user.refresh_from_db()
    assert membership.user.is_staff is True
    with pytest.raises(PermissionDenied):
        services.membership_change_role(membership=membership, role=Role.ADMIN, acting_user=staff)
    services.membership_change_role(membership=membership, role=Role.MEMBER, acting_user=staff)
    membership.user.refresh_from_db()
    assert membership.user.is_staff is False


def test_one_membership_per_user_and_hub_is_enforced_by_the_database(hub, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=member, hub=hub)


def test_unknown_status_is_refused_by_the_database(hub, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(user=member).update(status="vip")


def test_leaving_a_hub_revokes_the_members_keys_for_it(hub, member):
    from tests.factories import make_api_key

    key, _ = make_api_key(hub=hub, user=member)
    services.membership_leave(membership=member.memberships.get(), acting_user=member)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key.revoked", object_id=str(key.pk)).exists()
