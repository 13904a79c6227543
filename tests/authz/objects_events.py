"""Objects of hubs A and B for the events rows: a published demo day the hub's member is
registered for as a startup (holding a pitch slot), a draft, an event under way."""

from datetime import timedelta

from pilots.events.models import EventKind, EventStatus, RegistrationRole
from tests.events.factories import EventFactory, PitchSlotFactory, RegistrationFactory, in_days

from .world import builds, unique


@builds
def event_objects(world, side):
    hub = side.hub
    side.event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY, title=unique("demo day"), slug=unique("demo-day"))
    side.pitch_slot = PitchSlotFactory(event=side.event, starts_at=side.event.starts_at)
    side.free_pitch_slot = PitchSlotFactory(event=side.event, starts_at=side.event.starts_at + timedelta(minutes=30))
    side.registration = RegistrationFactory(
        event=side.event,
        user=side.member,
        role=RegistrationRole.STARTUP,
        organisation_name=unique("startup"),
        pitch_slot=side.pitch_slot,
    )
    side.draft_event = EventFactory(
        hub=hub, title=unique("draft event"), slug=unique("draft-event"), status=EventStatus.DRAFT, published_at=None
    )
    side.live_event = EventFactory(
        hub=hub,
        title=unique("live event"),
        slug=unique("live-event"),
        starts_at=in_days(0, hours=-1),
        ends_at=in_days(0, hours=2),
    )
    side.live_registration = RegistrationFactory(event=side.live_event, user=side.member)
