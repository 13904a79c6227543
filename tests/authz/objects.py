"""Objects of hubs A and B for the hubs and compute rows (other apps: ``objects_<app>.py``)."""

import datetime as dt

from compute import services as compute_services
from compute.models import AppStatus, Track
from compute.usage import usage_ingest
from hubs import services as hub_services
from hubs.models import MembershipStatus, Role
from tests.compute.factories import ApplicationFactory, CallFactory, set_status
from tests.compute.usage_factories import make_allocation, make_project, make_provider, make_resource
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .world import builds, unique


@builds
def hub_objects(world, side):
    hub = side.hub
    side.applicant = verified_user(name=f"Applicant {side.key.upper()}")
    side.pending_membership = MembershipFactory(
        user=side.applicant, hub=hub, role=Role.MEMBER, status=MembershipStatus.REQUESTED, decided_at=None
    )
    side.invitation = hub_services.invitation_create(
        hub=hub, email=f"invitee-{side.key}@example.org", role=Role.MEMBER, acting_user=side.staff
    )
    side.invitation_token = hub_services.invitation_token(side.invitation)
    (side.notification,) = hub_services.notify(
        users=[side.member], kind="authz.test", title=unique("note"), dedupe_key=unique("dedupe")
    )


@builds
def compute_objects(world, side):
    hub = side.hub
    provider = make_provider(hub=hub)
    provider.partner = side.partner
    provider.save(update_fields=["partner"])
    side.provider = provider
    side.resource = make_resource(provider=provider, name=unique("cluster"), partition="gpu")
    side.call = CallFactory(
        hub=hub, title=unique("call"), track=Track.PEER_REVIEW, resources=[side.resource], funded=10**9
    )
    # Unpublished: a staff preview only.
    side.draft_call = CallFactory(hub=hub, title=unique("unpublished call"), published=False, resources=[side.resource])
    side.fast_call = CallFactory(
        hub=hub, title=unique("fast call"), track=Track.FAST_LANE, resources=[side.resource], funded=10**9
    )
    side.colleague = verified_user(name=f"Colleague {side.key.upper()}")
    MembershipFactory(user=side.colleague, hub=hub, role=Role.MEMBER)
    # Not on any team: added to projects and asked to review by the rows.
    side.teammate = verified_user(name=f"Teammate {side.key.upper()}")
    MembershipFactory(user=side.teammate, hub=hub, role=Role.MEMBER)
    side.reviewer2 = verified_user(name=f"Second reviewer {side.key.upper()}")
    MembershipFactory(user=side.reviewer2, hub=hub, role=Role.REVIEWER)
    side.project = make_project(hub=hub, pi=side.member, members=[side.colleague])
    side.project.title = unique("project")
    side.project.save(update_fields=["title"])
    side.draft = ApplicationFactory(call=side.call, project=side.project, title=unique("draft"))
    side.application = ApplicationFactory(call=side.call, project=side.project, title=unique("application"))
    set_status(side.application, AppStatus.IN_REVIEW)
    # A fast-lane application sent to staff: approvable at once.
    side.fast_app = ApplicationFactory(call=side.fast_call, project=side.project, title=unique("fast application"))
    set_status(side.fast_app, AppStatus.IN_REVIEW)
    side.review = compute_services.review_assign(
        application=side.application, reviewer=side.reviewer, acting_user=side.staff
    )
    side.allocation = make_allocation(call=side.call, granted=10**7, project=side.project)
    start = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    side.usage_job = unique("job")
    usage_ingest(
        provider=provider,
        records=[
            {
                "resource": side.resource.pk,
                "allocation": side.allocation.pk,
                "external_id": side.usage_job,
                "user": "alice",
                "gpu_seconds": 3600,
                "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=1)).isoformat(),
            }
        ],
        acting_label="authz",
    )
