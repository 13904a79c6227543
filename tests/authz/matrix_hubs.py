"""Hubs: directory, membership, account, inbox, invitations, API keys; staff member management."""

from hubs.models import ApiKey, Notification

from .matrix import OWNER_ONLY, PUBLISHED, STAFF_OF_HUB, api, page

# Asking to join: a hub one sees (hub B is private) and does not belong to yet.
JOINERS = {"default": "yn", "anon": "nn", "member_a": "nn", "reviewer_a": "nn", "staff_a": "nn", "superuser": "yy"}

# A hub page for the hub's members (any role), its staff and superusers.
HUB_MEMBERS = {**STAFF_OF_HUB, "member_a": "yn", "member_b": "ny", "reviewer_a": "yn"}


def slug(w, s):
    return {"slug": s.hub.slug}


def own_membership(w, s):
    return {"pk": s.membership.pk}


def pending_membership(w, s):
    return {"pk": s.pending_membership.pk}


ROWS = [
    # --- Public pages ---------------------------------------------------------------------
    page("GET", "hubs:landing", "y"),
    page("GET", "hubs:directory", "yh", marker=lambda w, s: s.hub.name, note="the directory lists public hubs only"),
    page("GET", "hubs:hub_detail", **PUBLISHED, args=slug),
    # --- Signed-in people --------------------------------------------------------------------
    page("GET", "hubs:join", **PUBLISHED, args=slug, anon="nn"),
    page(
        "POST",
        "hubs:join",
        **JOINERS,
        args=slug,
        data={"motivation": "I would like to join."},
        effect=lambda w, s: s.hub.memberships.filter(motivation="I would like to join.").exists(),
        note="a request to a hub one sees (B is private), unless one belongs to it already",
    ),
    page("GET", "hubs:hub_dashboard", args=slug, **HUB_MEMBERS),
    page("GET", "hubs:dashboard", "y", anon="n"),
    page("GET", "hubs:profile", "y", anon="n"),
    page("POST", "hubs:profile", "y", anon="n", data={"name": "Renamed Person"}),
    page(
        "GET",
        "hubs:memberships",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: f"/account/memberships/{s.membership.pk}/leave/",
    ),
    page("POST", "hubs:membership_leave", args=own_membership, **OWNER_ONLY),
    page(
        "GET", "hubs:api_keys", "hh", anon="nn", member_a="yh", member_b="hy", marker=lambda w, s: s.personal_key.lookup
    ),
    page(
        "POST",
        "hubs:api_keys",
        "nn",
        member_a="yn",
        member_b="ny",
        reviewer_a="yn",
        staff_a="yn",
        staff_b="ny",
        data=lambda w, s: {"name": "matrix key", "hub": s.hub.pk, "scope": "read"},
        effect=lambda w, s: ApiKey.objects.filter(hub=s.hub, name="matrix key").exists(),
        note="a personal key only for a hub the user is an active member of (a superuser is a member of none)",
    ),
    page("POST", "hubs:api_key_revoke", args=lambda w, s: {"pk": s.personal_key.pk}, **OWNER_ONLY),
    page("GET", "hubs:account_export", "y", anon="n"),
    page("GET", "hubs:account_delete", "y", anon="n"),
    page("POST", "hubs:account_delete", "y", anon="n", data={"confirm": "DELETE"}),
    page("GET", "hubs:inbox", "hh", anon="nn", member_a="yh", member_b="hy", marker=lambda w, s: s.notification.title),
    page("POST", "hubs:inbox_read_all", "y", anon="n"),
    page(
        "POST",
        "hubs:inbox_read",
        args=lambda w, s: {"pk": s.notification.pk},
        **OWNER_ONLY,
        effect=lambda w, s: Notification.objects.get(pk=s.notification.pk).read_at is not None,
        note="someone else's notification id is ignored",
    ),
    # The token is the secret: whoever holds the link may see the invitation; accepting it
    # checks the e-mail address (nobody here is the invitee: a refusal message, not a 2xx join).
    page("GET", "hubs:invitation_accept", "yy", args=lambda w, s: {"token": s.invitation_token}),
    page("POST", "hubs:invitation_accept", "yy", args=lambda w, s: {"token": s.invitation_token}),
    # --- Hub staff ---------------------------------------------------------------------------
    page("GET", "hubs:manage", args=slug, **STAFF_OF_HUB),
    page("POST", "hubs:invite", args=slug, data={"email": "new-person@example.org", "role": "member"}, **STAFF_OF_HUB),
    page("POST", "hubs:invitation_revoke", args=lambda w, s: {"pk": s.invitation.pk}, **STAFF_OF_HUB),
    page("POST", "hubs:membership_role", args=own_membership, data={"role": "reviewer"}, **STAFF_OF_HUB),
    page(
        "POST",
        "hubs:membership_decide",
        args=lambda w, s: {"pk": s.pending_membership.pk, "action": "approve"},
        **STAFF_OF_HUB,
    ),
    # --- API ---------------------------------------------------------------------------------
    api("GET", "api-hub-list", "y"),
    api("GET", "api-hub-detail", **PUBLISHED, args=slug),
    api("GET", "api-hub-memberships", args=slug, **STAFF_OF_HUB),
    api("GET", "api-organisation-list", "y"),
    api(
        "POST",
        "api-organisation-list",
        "y",
        anon="n",
        partner_a="n",
        data={"name": "Matrix University", "kind": "university", "country": "FR"},
    ),
    api("GET", "api-me", "y", anon="n", partner_a="n"),
    api("PATCH", "api-me", "y", anon="n", partner_a="n", data={"name": "Renamed Person"}),
    api(
        "GET",
        "api-membership-list",
        "hh",
        anon="nn",
        partner_a="nn",
        member_a="yh",
        member_b="hy",
        personal="yh",
        marker=lambda w, s: f'"id":{s.membership.pk},',
    ),
    api(
        "POST",
        "api-membership-list",
        **JOINERS,
        partner_a="nn",
        personal="nn",
        data=lambda w, s: {"hub": s.hub.slug, "motivation": "Matrix"},
        effect=lambda w, s: s.hub.memberships.filter(motivation="Matrix").exists(),
        note="a request is made unless already a member; a key only asks for its own hub",
    ),
    api("POST", "api-membership-leave", args=own_membership, **{**OWNER_ONLY, "personal": "yn"}),
    api("POST", "api-membership-role", args=own_membership, data={"role": "reviewer"}, **STAFF_OF_HUB),
    *[
        api("POST", f"api-membership-{action}", args=pending_membership, data={"note": "matrix"}, **STAFF_OF_HUB)
        for action in ("approve", "reject", "suspend", "reinstate")
    ],
]
