"""Objects of hubs A and B for the pilots rows: pilots led by the hub's member, a published
case study, a withdrawn one."""

from pilots import services as pilot_services
from pilots.models import PilotStatus
from tests.pilots.factories import PilotFactory, publish

from .world import builds, unique


@builds
def pilot_objects(world, side):
    hub = side.hub
    # Led by the hub's member (member_a / member_b): the lead edits it, as the hub's staff do.
    side.pilot = PilotFactory(hub=hub, lead=side.member, title=unique("proposed pilot"))
    side.active_pilot = PilotFactory(hub=hub, lead=side.member, status=PilotStatus.ACTIVE, title=unique("pilot"))
    side.shown_pilot = PilotFactory(hub=hub, lead=side.member, status=PilotStatus.COMPLETED, title=unique("pilot"))
    side.case_study = publish(side.shown_pilot, by=side.staff, headline=unique("case study"))
    withdrawn = PilotFactory(hub=hub, status=PilotStatus.COMPLETED, title=unique("pilot"))
    side.withdrawn_case_study = publish(withdrawn, by=side.staff, headline=unique("withdrawn case study"))
    pilot_services.case_study_withdraw(case_study=side.withdrawn_case_study, acting_user=side.staff)
