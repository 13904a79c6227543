"""The nine roles of the matrix, on two hubs."""

from hubs.models import ApiScope, PartnerSystem, Role
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory, make_api_key


def people(world) -> None:
    a, b = world.a, world.b
    a.hub = HubFactory(name="Lyon AI Gigafactory", slug="authz-lyon", city="Lyon", country="FR")
    # Hub B is private: what a public hub shows everyone (calls, showcase, clinics, events, news)
    # it shows only to its members, so its side of each public row checks that too.
    b.hub = HubFactory(
        name="Helsinki AI Gigafactory", slug="authz-helsinki", city="Helsinki", country="FI", public=False
    )
    for side in (a, b):
        side.staff = _staff(side.hub, f"Staff {side.key.upper()}")
        side.member = verified_user(name=f"Member {side.key.upper()}")
        side.membership = MembershipFactory(user=side.member, hub=side.hub, role=Role.MEMBER)
        # A reviewer of the hub (the role "reviewer_a" on side A); side B's one is nobody's role.
        side.reviewer = verified_user(name=f"Reviewer {side.key.upper()}")
        side.reviewer_membership = MembershipFactory(user=side.reviewer, hub=side.hub, role=Role.REVIEWER)
        side.partner = PartnerSystem.objects.create(
            hub=side.hub, name=f"HPC centre {side.key.upper()}", kind=PartnerSystem.Kind.HPC_CENTRE
        )
        side.partner_key, side.partner_secret = make_api_key(
            hub=side.hub, partner=side.partner, scope=ApiScope.WRITE, name=f"partner {side.key}"
        )
        side.personal_key, side.personal_secret = make_api_key(
            hub=side.hub, user=side.member, scope=ApiScope.WRITE, name=f"personal {side.key}"
        )

    root = verified_user(name="Root Superuser", is_superuser=True, is_staff=True)
    enable_mfa(root)
    world.superuser = root

    for role, user in {
        "member_a": a.member,
        "member_b": b.member,
        "reviewer_a": a.reviewer,
        "staff_a": a.staff,
        "staff_b": b.staff,
        "superuser": root,
    }.items():
        world.login(role, user)
    world.bearer = {"partner_a": a.partner_secret, "personal": a.personal_secret}


def _staff(hub, name):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    enable_mfa(user)
    return user
