"""Every write about hubs, people and keys. Each transition is one function that checks,
changes, writes the audit trail and queues notifications in one transaction."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from gigafactory import outbox
from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition

from . import access
from .models import (
    STAFF_ROLES,
    ApiKey,
    ApiScope,
    Hub,
    Invitation,
    Membership,
    MembershipStatus,
    Notification,
    Organisation,
    PartnerSystem,
    Profile,
    Role,
    User,
)

INVITATION_SALT = "hubs.invitation"
S = MembershipStatus


# --- Notifications ------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One message for the inboxes of ``user_ids``; a user gets it once per ``dedupe_key``."""

    user_ids: tuple[int, ...]
    kind: str
    title: str
    body: str = ""
    url: str = ""
    dedupe_key: str = ""


def notify(*, users, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str) -> list[Notification]:
    """Put an item in each user's inbox (once per ``dedupe_key``) and e-mail it after commit."""
    notice = Notice(tuple(u.pk for u in users), kind, title, body, url, dedupe_key)
    return notify_many([notice])


def notify_many(notices) -> list[Notification]:
    """Deliver many ``Notice``s with a few statements (the batch screening uses this); e-mails
    go to the worker in one task per commit. Returns the notifications created."""
    from .tasks import send_notification_emails

    wanted: dict[tuple[int, str], Notification] = {}
    for n in notices:
        key = n.dedupe_key[:200]
        for user_id in n.user_ids:
            wanted.setdefault(
                (user_id, key),
                Notification(user_id=user_id, dedupe_key=key, kind=n.kind, title=n.title[:200], body=n.body, url=n.url),
            )
    if not wanted:
        return []
    had = set(
        Notification.objects.filter(
            user_id__in={user for user, _ in wanted}, dedupe_key__in={key for _, key in wanted}
        ).values_list("user_id", "dedupe_key")
    )
    new = [n for pair, n in wanted.items() if pair not in had]
    try:
        with transaction.atomic():
            created = Notification.objects.bulk_create(new)
    except IntegrityError:  # a concurrent transaction delivered one of them first
        created = []
        for n in new:
            fields = {"kind": n.kind, "title": n.title, "body": n.body, "url": n.url}
            notification, was_created = Notification.objects.get_or_create(
                user_id=n.user_id, dedupe_key=n.dedupe_key, defaults=fields
            )
            if was_created:
                created.append(notification)
    if created:
        outbox.send_on_commit(send_notification_emails, [n.pk for n in created])  # never fails the request
    return created


def notifications_mark_read(*, user, ids=None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def _hub_staff(hub):
    return User.objects.filter(
        memberships__hub=hub, memberships__status=S.ACTIVE, memberships__role__in=STAFF_ROLES, is_active=True
    )


# --- Profile ------------------------------------------------------------------------------


def profile_get_or_create(user) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


ORCID_TAKEN = "This ORCID iD is already linked to another account."


def orcid_taken(orcid: str, *, by_other_than) -> bool:
    return bool(orcid) and Profile.objects.filter(orcid=orcid).exclude(user=by_other_than).exists()


@transaction.atomic
def profile_update(*, user, name=None, **fields) -> Profile:
    profile = profile_get_or_create(user)
    before = {f: getattr(profile, f) for f in fields} | {"name": user.name}
    for field, value in fields.items():
        setattr(profile, field, value)
    errors = {}
    try:
        profile.full_clean(exclude=["user"], validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    if "orcid" not in errors and orcid_taken(profile.orcid, by_other_than=user):
        errors["orcid"] = [ORCID_TAKEN]
    if errors:
        raise ValidationError(errors)
    profile.save()
    if name is not None and name != user.name:
        user.name = name
        user.save(update_fields=["name"])
    after = {f: getattr(profile, f) for f in fields} | {"name": user.name}
    audit_record(profile, "profile.updated", actor=user, before=_ids(before), after=_ids(after))
    return profile


def _ids(data):
    return {k: (v.pk if hasattr(v, "pk") else v) for k, v in data.items()}


# --- Organisations ------------------------------------------------------------------------

ORGANISATION_EXISTS = "An organisation with this name is already registered in this country."


@transaction.atomic
def organisation_create(*, name, kind, country, website="", acting_user) -> Organisation:
    organisation = Organisation(name=name.strip(), kind=kind, country=country, website=website)
    organisation.full_clean(validate_constraints=False)
    if Organisation.objects.filter(name__iexact=organisation.name, country=country).exists():
        raise ValidationError({"name": ORGANISATION_EXISTS})
    try:
        with transaction.atomic():
            organisation.save()
    except IntegrityError as exc:  # registered concurrently under the same name
        raise ValidationError({"name": ORGANISATION_EXISTS}) from exc
    audit_record(
        organisation, "organisation.created", actor=acting_user, after={"name": organisation.name, "kind": kind}
    )
    return organisation


# --- Memberships --------------------------------------------------------------------------


def _sync_staff_flag(user) -> None:
    """Give access to the admin exactly to users who run at least one hub (or are superusers)."""
    runs_a_hub = Membership.objects.filter(user=user, status=S.ACTIVE, role__in=STAFF_ROLES).exists()
    wanted = runs_a_hub or user.is_superuser
    if user.is_staff != wanted:
        User.objects.filter(pk=user.pk).update(is_staff=wanted)
        user.is_staff = wanted
    access.forget_roles(user)


def _transition(membership, action, *, allowed_from, to, acting_user, note="", extra=None):
    """Move ``membership`` to ``to`` if it is still in one of ``allowed_from``.

    The conditional UPDATE makes two concurrent decisions safe: only one wins.
    """
    before = {"status": membership.status, "role": membership.role}
    values = {"status": to, "updated_at": timezone.now()} | (extra or {})
    if acting_user is not None and acting_user.pk != membership.user_id:
        values |= {"decided_by": acting_user, "decided_at": timezone.now(), "decision_note": note}
    won = Membership.objects.filter(pk=membership.pk, status__in=allowed_from).update(**values)
    if won != 1:
        membership.refresh_from_db()
        raise InvalidTransition(membership, action)
    membership.refresh_from_db()
    audit_record(
        membership,
        f"membership.{action}",
        actor=acting_user,
        before=before,
        after={"status": membership.status, "role": membership.role, "note": note},
    )
    _sync_staff_flag(membership.user)
    return membership


def _require_staff(acting_user, hub):
    if not access.is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"You are not staff of {hub}.")


REQUEST_REFUSALS = {
    S.REQUESTED: "You have already asked to join {hub}; its staff will decide soon.",
    S.ACTIVE: "You are already a member of {hub}.",
    S.SUSPENDED: "Your membership of {hub} is suspended; contact the hub's staff.",
}


@transaction.atomic
def membership_request(*, user, hub: Hub, motivation: str = "") -> Membership:
    """Ask to join ``hub``. A rejected or former member may ask again."""
    if not user.is_active:
        raise PermissionDenied("This account is not active.")
    membership = Membership.objects.select_for_update().filter(user=user, hub=hub).first()
    if membership is not None and membership.status in REQUEST_REFUSALS:
        raise InvalidTransition(membership, "request", REQUEST_REFUSALS[membership.status].format(hub=hub))
    if membership is None:
        try:
            with transaction.atomic():
                membership = Membership.objects.create(user=user, hub=hub, motivation=motivation)
        except IntegrityError:
            membership = Membership.objects.select_for_update().get(user=user, hub=hub)
        else:
            audit_record(membership, "membership.requested", actor=user, after={"status": S.REQUESTED})
            _notify_request(membership)
            return membership
    _transition(
        membership,
        "request",
        allowed_from=[S.REJECTED, S.LEFT],
        to=S.REQUESTED,
        acting_user=user,
        extra={"motivation": motivation, "role": Role.MEMBER, "decided_by": None, "decided_at": None},
    )
    _notify_request(membership)
    return membership


def _notify_request(membership):
    notify(
        users=_hub_staff(membership.hub),
        kind="membership.requested",
        title=f"{membership.user.display_name} asks to join {membership.hub}",
        body=membership.motivation,
        url=reverse("hubs:manage", args=[membership.hub.slug]) + "?status=requested",
        dedupe_key=f"membership.requested:{membership.pk}:{membership.updated_at.isoformat()}",
    )


def _notify_member(membership, action, title, body=""):
    notify(
        users=[membership.user],
        kind=f"membership.{action}",
        title=title,
        body=body,
        url=reverse("hubs:hub_dashboard", args=[membership.hub.slug])
        if membership.status == S.ACTIVE
        else reverse("hubs:memberships"),
        dedupe_key=f"membership.{action}:{membership.pk}:{membership.updated_at.isoformat()}",
    )


@transaction.atomic
def membership_approve(*, membership, acting_user, note: str = "") -> Membership:
    _require_staff(acting_user, membership.hub)
    _transition(membership, "approve", allowed_from=[S.REQUESTED], to=S.ACTIVE, acting_user=acting_user, note=note)
    _notify_member(membership, "approved", f"Welcome to {membership.hub}: your membership is active", note)
    return membership


@transaction.atomic
def membership_reject(*, membership, acting_user, note: str = "") -> Membership:
    _require_staff(acting_user, membership.hub)
    _transition(membership, "reject", allowed_from=[S.REQUESTED], to=S.REJECTED, acting_user=acting_user, note=note)
    _notify_member(membership, "rejected", f"Your request to join {membership.hub} was not accepted", note)
    return membership


@transaction.atomic
def membership_suspend(*, membership, acting_user, note: str = "") -> Membership:
    _require_staff(acting_user, membership.hub)
    if membership.user_id == acting_user.pk:
        raise InvalidTransition(membership, "suspend", "You cannot suspend yourself.")
    _transition(membership, "suspend", allowed_from=[S.ACTIVE], to=S.SUSPENDED, acting_user=acting_user, note=note)
    _notify_member(membership, "suspended", f"Your membership of {membership.hub} is suspended", note)
    return membership


@transaction.atomic
def membership_reinstate(*, membership, acting_user, note: str = "") -> Membership:
    _require_staff(acting_user, membership.hub)
    _transition(membership, "reinstate", allowed_from=[S.SUSPENDED], to=S.ACTIVE, acting_user=acting_user, note=note)
    _notify_member(membership, "reinstated", f"Your membership of {membership.hub} is active again", note)
    return membership


@transaction.atomic
def membership_leave(*, membership, acting_user) -> Membership:
    if membership.user_id != acting_user.pk:
        raise PermissionDenied("Only the member can leave a hub.")
    if membership.role == Role.ADMIN and membership.status == S.ACTIVE:
        other_admins = Membership.objects.filter(hub=membership.hub, role=Role.ADMIN, status=S.ACTIVE).exclude(
            pk=membership.pk
        )
        if not other_admins.exists():
            raise InvalidTransition(membership, "leave", "You are the hub's last admin: name another admin first.")
    _transition(
        membership, "leave", allowed_from=[S.REQUESTED, S.ACTIVE, S.SUSPENDED], to=S.LEFT, acting_user=acting_user
    )
    _revoke_personal_keys(membership)
    return membership


def _revoke_personal_keys(membership) -> None:
    """A member who leaves (or is suspended from) a hub keeps no key into it."""
    for key in ApiKey.objects.filter(user=membership.user, hub=membership.hub, revoked_at__isnull=True):
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
        audit_record(key, "api_key.revoked", actor=None, actor_label="membership ended", hub=membership.hub)


@transaction.atomic
def membership_change_role(*, membership, role: str, acting_user) -> Membership:
    _require_staff(acting_user, membership.hub)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role '{role}'."})
    if not access.can_grant(acting_user, membership.hub, role) or not access.can_grant(
        acting_user, membership.hub, membership.role
    ):
        raise PermissionDenied("You can only hand out roles up to your own.")
    if membership.status != S.ACTIVE:
        raise InvalidTransition(membership, "change the role of")
    if membership.role == role:
        return membership
    before = {"role": membership.role}
    Membership.objects.filter(pk=membership.pk).update(role=role, updated_at=timezone.now())
    membership.refresh_from_db()
    audit_record(membership, "membership.role_changed", actor=acting_user, before=before, after={"role": role})
    _sync_staff_flag(membership.user)
    _notify_member(membership, "role_changed", f"You are now {membership.get_role_display()} of {membership.hub}")
    return membership


# --- Invitations --------------------------------------------------------------------------


INVITATION_EXPIRED = "This invitation has expired; ask the hub for a new one."


def invitation_token(invitation) -> str:
    return signing.dumps({"i": invitation.pk}, salt=INVITATION_SALT)


def invitation_url(invitation) -> str:
    return settings.SITE_URL + reverse("hubs:invitation_accept", args=[invitation_token(invitation)])


def invitation_check(*, hub, email: str, role: str, acting_user) -> str:
    """Refuse an invitation that cannot be sent; return the normalised address.

    Forms call it to show the problem next to the field; ``invitation_create`` calls it too.
    """
    _require_staff(acting_user, hub)
    if not access.can_grant(acting_user, hub, role):
        raise PermissionDenied("You can only invite people to roles up to your own.")
    email = User.objects.normalize_email(email).strip()
    if Membership.objects.filter(hub=hub, user__email__iexact=email, status=S.ACTIVE).exists():
        raise ValidationError({"email": f"{email} is already an active member of {hub}."})
    return email


@transaction.atomic
def invitation_create(*, hub, email: str, role: str = Role.MEMBER, acting_user, message: str = "") -> Invitation:
    email = invitation_check(hub=hub, email=email, role=role, acting_user=acting_user)
    Invitation.objects.filter(hub=hub, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    invitation = Invitation.objects.create(
        hub=hub,
        email=email,
        role=role,
        invited_by=acting_user,
        message=message,
        expires_at=timezone.now() + timedelta(days=settings.GF_INVITATION_DAYS),
    )
    audit_record(invitation, "invitation.created", actor=acting_user, after={"email": email, "role": role})
    from .tasks import send_invitation_email

    outbox.send_on_commit(send_invitation_email, invitation.pk)
    return invitation


def invitation_from_token(token: str) -> Invitation:
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=timedelta(days=settings.GF_INVITATION_DAYS))
    except signing.BadSignature as exc:
        raise ValidationError("This invitation link is invalid or has expired.") from exc
    invitation = Invitation.objects.select_related("hub", "invited_by").filter(pk=data.get("i")).first()
    if invitation is None or invitation.revoked_at is not None:
        raise ValidationError("This invitation was withdrawn.")
    if invitation.accepted_at is None and invitation.expires_at < timezone.now():
        raise ValidationError(INVITATION_EXPIRED)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    invitation = invitation_from_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        if invitation.accepted_by_id == user.pk:
            return Membership.objects.get(user=user, hub=invitation.hub)
        raise ValidationError("This invitation has already been used.")
    if invitation.expires_at < timezone.now():
        raise ValidationError(INVITATION_EXPIRED)
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    membership, created = Membership.objects.select_for_update().get_or_create(
        user=user, hub=invitation.hub, defaults={"role": invitation.role, "status": S.ACTIVE}
    )
    before = {} if created else {"status": membership.status, "role": membership.role}
    if not created:
        if membership.status == S.SUSPENDED:
            raise InvalidTransition(membership, "accept an invitation for", "Your membership of this hub is suspended.")
        Membership.objects.filter(pk=membership.pk).update(
            status=S.ACTIVE, role=invitation.role, updated_at=timezone.now()
        )
        membership.refresh_from_db()
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), accepted_by=user)
    audit_record(
        membership,
        "membership.invitation_accepted",
        actor=user,
        before=before,
        after={"status": membership.status, "role": membership.role, "invitation": invitation.pk},
    )
    _sync_staff_flag(user)
    notify(
        users=[u for u in [invitation.invited_by] if u is not None],
        kind="invitation.accepted",
        title=f"{user.display_name} accepted your invitation to {invitation.hub}",
        url=reverse("hubs:manage", args=[invitation.hub.slug]),
        dedupe_key=f"invitation.accepted:{invitation.pk}",
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation, acting_user) -> Invitation:
    _require_staff(acting_user, invitation.hub)
    won = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if won != 1:
        raise InvalidTransition(invitation, "revoke", "This invitation is already used or withdrawn.")
    invitation.refresh_from_db()
    audit_record(invitation, "invitation.revoked", actor=acting_user)
    return invitation


def pending_invitations_for(user):
    return Invitation.objects.select_related("hub").filter(
        email__iexact=user.email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


# --- Partner systems and API keys ---------------------------------------------------------


@transaction.atomic
def partner_system_create(*, hub, name, kind=PartnerSystem.Kind.OTHER, contact_email="", active=True, acting_user):
    _require_staff(acting_user, hub)
    partner = PartnerSystem(hub=hub, name=name, kind=kind, contact_email=contact_email, active=active)
    partner.full_clean()
    partner.save()
    audit_record(partner, "partner.created", actor=acting_user, after={"name": name, "kind": kind})
    return partner


@transaction.atomic
def api_key_create(*, name, hub, scope=ApiScope.READ, user=None, partner=None, acting_user) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored and shown once."""
    if (user is None) == (partner is None):
        raise ValueError("A key belongs to a user or to a partner system.")
    if partner is not None:
        _require_staff(acting_user, partner.hub)
        hub = partner.hub
    else:
        if acting_user.pk != user.pk:
            raise PermissionDenied("Users create their own personal keys.")
        if access.role_in(user, hub) is None:
            raise ValidationError({"hub": f"You are not an active member of {hub}."})
    if scope not in ApiScope.values:
        raise ValidationError({"scope": f"Unknown scope '{scope}'."})
    lookup = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        hub=hub,
        user=user,
        partner=partner,
        scope=scope,
        lookup=lookup,
        secret_hash=ApiKey.hash_secret(secret),
        created_by=acting_user,
    )
    audit_record(key, "api_key.created", actor=acting_user, hub=hub, after={"name": name, "scope": scope})
    return key, f"{ApiKey.PREFIX}{lookup}_{secret}"


@transaction.atomic
def api_key_revoke(*, key, acting_user) -> ApiKey:
    if key.user_id is not None:
        if key.user_id != acting_user.pk and not access.is_hub_staff(acting_user, key.hub):
            raise PermissionDenied("This is not your key.")
    else:
        _require_staff(acting_user, key.hub)
    won = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if won != 1:
        raise InvalidTransition(key, "revoke", "This key is already revoked.")
    key.refresh_from_db()
    audit_record(key, "api_key.revoked", actor=acting_user, hub=key.hub)
    return key


# --- Account: export and deletion ---------------------------------------------------------


def account_export(*, user) -> dict:
    """Everything the portal holds about ``user``, as JSON-ready data."""
    from gigafactory.models import AuditEvent

    from .selectors import profile_of

    profile = profile_of(user)
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "email": user.email,
            "name": user.name,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "profile": {
            "orcid": profile.orcid,
            "organisation": profile.organisation.name if profile.organisation else None,
            "affiliation": profile.affiliation,
            "country": profile.country,
            "expertise": profile.expertise,
            "email_notifications": profile.email_notifications,
        },
        "email_addresses": list(user.emailaddress_set.values("email", "verified", "primary")),
        "memberships": [
            {
                "hub": m.hub.name,
                "role": m.role,
                "status": m.status,
                "motivation": m.motivation,
                "requested_at": m.created_at.isoformat(),
            }
            for m in user.memberships.select_related("hub")
        ],
        "api_keys": [
            {
                "name": k.name,
                "hub": k.hub.name,
                "scope": k.scope,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in user.api_keys.select_related("hub")
        ],
        "notifications": list(user.notifications.values("kind", "title", "body", "created_at", "read_at")),
        "activity": [
            {"at": e.created_at.isoformat(), "action": e.action, "object": e.object_repr}
            for e in AuditEvent.objects.filter(actor=user).order_by("created_at")
        ],
    }


@transaction.atomic
def account_delete(*, user, acting_user) -> None:
    """Remove personal data and close the account.

    The user row stays, anonymised and inactive, so the audit trail keeps pointing at
    the same (now nameless) actor and stays consistent.
    """
    if acting_user.pk != user.pk and not acting_user.is_superuser:
        raise PermissionDenied("You can only delete your own account.")
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    old_email = user.email
    ended = list(Membership.objects.filter(user=user).exclude(status__in=[S.LEFT, S.REJECTED]).select_related("hub"))
    Membership.objects.filter(pk__in=[m.pk for m in ended]).update(status=S.LEFT, updated_at=timezone.now())
    Membership.objects.filter(user=user).update(motivation="", decision_note="")
    ApiKey.objects.filter(user=user).delete()
    Notification.objects.filter(user=user).delete()
    Invitation.objects.filter(email__iexact=old_email, accepted_at__isnull=True).update(revoked_at=timezone.now())
    Profile.objects.filter(user=user).delete()
    EmailAddress.objects.filter(user=user).delete()
    SocialAccount.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    user.email = f"deleted-{user.pk}@deleted.invalid"
    user.name = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.is_staff = False
    user.set_unusable_password()
    user.save()
    access.forget_roles(user)
    # Written after anonymising, so the events about the deletion hold no personal data.
    audit_record(user, "account.deleted", actor=acting_user, hub=None)
    for membership in ended:
        before = {"status": membership.status}
        membership.user, membership.status = user, S.LEFT
        audit_record(
            membership, "membership.left_by_deletion", actor=acting_user, before=before, after={"status": S.LEFT}
        )
