"""The values the fuzzer draws ids from: the ids (or slugs) of the objects that exist.

``RESOURCES`` maps the part of an API path before a parameter to the model it names. A new
kind of path parameter fails the run with a message naming it until it is added here, so
that the fuzzer never quietly falls back to ids that cannot exist.

``FIELDS`` does the same for the fields of bodies and query strings that name objects.

A generated value is mapped onto the candidates (bodies and query strings only in requests
generated to be valid, so that a deliberately invalid one stays invalid): a value of the parameter's type (an
integer from 0, a string) becomes one of the existing ids, chosen by the value itself (so the
choice is as reproducible as the generation), or stays as generated for one value in
``len(candidates) + 1``; a value of another type is left alone.
"""

import zlib

from django.apps import apps

# "<path before the parameter>": ("app_label.Model", "field the parameter holds")
RESOURCES = {
    "hubs": ("hubs.Hub", "slug"),
    "memberships": ("hubs.Membership", "pk"),
    "projects": ("compute.Project", "pk"),
    "projects/{id}/members": ("compute.ProjectMember", "user_id"),
    "applications": ("compute.Application", "pk"),
    "reviews": ("compute.Review", "pk"),
    "allocations": ("compute.Allocation", "pk"),
    "resources": ("compute.ComputeResource", "pk"),
    "calls": ("compute.Call", "slug"),
    "pilots": ("pilots.Pilot", "pk"),
    "case-studies": ("pilots.CaseStudy", "slug"),
    "clinic-slots": ("clinics.ClinicSlot", "pk"),
    "clinic-bookings": ("clinics.ClinicBooking", "pk"),
    "events": ("events.Event", "slug"),
    "event-registrations": ("events.Registration", "pk"),
    "event-pitch-slots": ("events.PitchSlot", "pk"),
    "network/news": ("network.NewsItem", "pk"),
    "network/subscriptions": ("network.Subscription", "pk"),
    "webhooks/endpoints": ("webhooks.Endpoint", "pk"),
    "webhooks/deliveries": ("webhooks.Delivery", "pk"),
    "assurance/anchors": ("assurance.TrustAnchor", "pk"),
    "assurance/batches": ("assurance.DriftBatch", "pk"),
    "assurance/fairness-checks": ("assurance.FairnessCheck", "pk"),
    "assurance/references": ("assurance.ReferenceDataset", "pk"),
    "ai-systems": ("compliance.AISystem", "pk"),
    "assessments": ("compliance.Assessment", "pk"),
    "board-members": ("compliance.BoardMember", "pk"),
    "board-reviews": ("compliance.BoardReview", "pk"),
    "checklist-items": ("compliance.ChecklistItem", "pk"),
    "evidence": ("compliance.Evidence", "pk"),
}

# Fields of request bodies and query strings that name objects, by name, wherever they appear
# (``records[].allocation`` too). Only values of the field's type are mapped.
FIELDS = {
    "hub": ("hubs.Hub", "slug"),
    "subscriber_hub": ("hubs.Hub", "slug"),
    "organisation": ("hubs.Organisation", "pk"),
    "expert": ("hubs.User", "pk"),
    "lead": ("hubs.User", "pk"),
    "team": ("hubs.User", "pk"),
    "reviewers": ("hubs.User", "pk"),
    "user": ("hubs.User", "pk"),
    "call": ("compute.Call", "slug"),
    "project": ("compute.Project", "pk"),
    "projects": ("compute.Project", "pk"),
    "applications": ("compute.Application", "pk"),
    "allocation": ("compute.Allocation", "pk"),
    "allocations": ("compute.Allocation", "pk"),
    "resource": ("compute.ComputeResource", "pk"),
    "provider": ("compute.ComputeProvider", "pk"),
    "ai_systems": ("compliance.AISystem", "pk"),
    "pilots": ("pilots.Pilot", "pk"),
    "slot": ("clinics.ClinicSlot", "pk"),
    "pitch_slot": ("events.PitchSlot", "pk"),
}


def resource_of(path: str, name: str) -> str:
    """``/api/v1/projects/{id}/members/{user_id}/``, ``user_id`` -> ``projects/{id}/members``."""
    before = path.split("{" + name + "}")[0].strip("/")
    return before.removeprefix("api/v1/")


def _existing(label: str, field: str) -> list:
    model = apps.get_model(label)
    return list(model.objects.order_by(field).values_list(field, flat=True).distinct())


class Candidates:
    def __init__(self):
        self.paths: dict[str, list] = {}
        self.fields: dict[str, list] = {}

    def load(self):
        self.paths = {resource: _existing(*target) for resource, target in RESOURCES.items()}
        self.fields = {name: _existing(*target) for name, target in FIELDS.items()}

    def clear(self):
        self.paths, self.fields = {}, {}

    def path_value(self, path: str, name: str, value):
        resource = resource_of(path, name)
        if resource not in RESOURCES:
            raise LookupError(f"tests/fuzz/ids.py: say which model `{name}` of {path} names (RESOURCES)")
        return _pick(self.paths.get(resource), value)

    def query(self, query: dict) -> dict:
        return {name: self._field(name, value) for name, value in query.items()}

    def body(self, body):
        """``body`` with the fields of ``FIELDS`` pointed at existing objects, at any depth."""
        if isinstance(body, dict):
            return {key: self._field(key, self.body(value)) for key, value in body.items()}
        if isinstance(body, list):
            return [self.body(item) for item in body]
        return body

    def _field(self, name, value):
        if name not in FIELDS:
            return value
        if isinstance(value, list):
            return [_pick(self.fields[name], item) for item in value]
        return _pick(self.fields[name], value)


def _pick(candidates, value):
    """One of ``candidates`` chosen by ``value`` (or ``value`` itself, one time in n + 1)."""
    if not candidates:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        index = value
    elif isinstance(value, str) and isinstance(candidates[0], str):
        index = zlib.crc32(value.encode())
    else:
        return value
    index %= len(candidates) + 1
    return candidates[index] if index < len(candidates) else value


candidates = Candidates()
