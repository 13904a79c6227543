"""Writing the audit trail. Call from inside the service's transaction."""

import json

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder

from .models import AuditEvent


def _jsonable(data):
    return json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))


def audit_event(obj, action, *, actor=None, actor_label="", hub=None, before=None, after=None) -> AuditEvent:
    """One audit event for ``obj``, not saved yet (``AuditEvent.objects.bulk_create`` writes many).

    ``hub`` defaults to ``obj.hub`` when it has one.
    """
    if hub is None:
        hub = getattr(obj, "hub", None)
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label[:200],
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        hub=hub,
        before=_jsonable(before),
        after=_jsonable(after),
    )


def audit_record(obj, action, **details) -> AuditEvent:
    """Append one audit event for ``obj`` (the arguments of ``audit_event``)."""
    event = audit_event(obj, action, **details)
    event.save(force_insert=True)
    return event


def audit_trail_for(obj):
    """The events about ``obj``, newest first, with their actors."""
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor")
