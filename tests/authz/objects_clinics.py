"""Objects of hubs A and B for the clinics rows. The hub's reviewer is also its clinic expert
(so ``reviewer_a`` manages hub A's slots as their expert); the hub's member has booked one."""

from pilots.clinics import services as clinic_services
from pilots.clinics.models import SlotStatus
from tests.clinics.factories import SlotFactory, book, in_days

from .world import builds, unique


@builds
def clinic_objects(world, side):
    hub = side.hub
    clinic_services.expert_mark(hub=hub, user=side.reviewer, expertise="Computer vision", acting_user=side.staff)
    day = 3 if side.key == "a" else 4  # one expert per hub; keep the two hubs' slots apart anyway

    def slot(hours, **kwargs):
        return SlotFactory(
            hub=hub, expert=side.reviewer, topic=unique("clinic"), starts_at=in_days(day, hours=hours), **kwargs
        )

    side.slot = slot(1)  # free
    side.spare_slot = slot(3)  # free: where a booking moves to
    side.booked_slot = slot(5)
    side.booking = book(side.booked_slot, side.member)
    side.withdrawn_slot = slot(7, status=SlotStatus.WITHDRAWN)
