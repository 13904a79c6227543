"""Reads for pilot pages, the showcase and the API, with their joins and counts applied in SQL,
so a page of results costs the same number of queries whatever its length."""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from gigafactory.audit import audit_trail_for

from . import access
from .models import Pilot


def pilots_list(
    *, user, api_key=None, hub: str = "", sector: str = "", status: str = "", q: str = "", editable=False
) -> QuerySet:
    qs = access.pilots_editable_by(user, api_key) if editable else access.pilots_visible_to(user, api_key)
    if hub:
        qs = qs.filter(hub__slug=hub)
    if sector:
        qs = qs.filter(sector=sector)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(summary__icontains=q) | Q(partners__name__icontains=q)).distinct()
    adaptations = (
        Pilot.objects.filter(adapted_from=OuterRef("pk")).order_by().values("adapted_from").annotate(n=Count("pk"))
    )
    return (
        qs.select_related("hub", "lead", "adapted_from", "adapted_from__hub", "case_study")
        .annotate(
            adaptation_count=Coalesce(Subquery(adaptations.values("n")[:1], output_field=IntegerField()), Value(0)),
            milestone_count=Count("milestones", distinct=True),
            milestones_done=Count("milestones", filter=Q(milestones__done=True), distinct=True),
        )
        .order_by("-created_at", "-pk")
    )


def pilot_detail_parts(pilot) -> dict:
    """Rows shown on a pilot's page (each one query)."""
    return {
        "partners": list(pilot.partners.select_related("organisation")),
        "milestones": list(pilot.milestones.all()),
        "metrics": list(pilot.metrics.all()),
        "team": list(pilot.team.order_by("name", "email")),
        "projects": list(pilot.projects.select_related("hub")),
        "allocations": list(pilot.allocations.select_related("project")),
        "ai_systems": list(pilot.ai_systems.order_by("name")),
        "adaptations": list(pilot.adaptations.select_related("hub", "case_study").order_by("created_at", "pk")),
        "trail": list(audit_trail_for(pilot)[:20]),
    }


def showcase(*, user=None, api_key=None, sector: str = "", country: str = "", hub: str = "", q: str = "") -> QuerySet:
    """Public case studies, newest first, each with how often (and where) its pilot was adapted."""
    qs = access.public_case_studies(user, api_key)
    if sector:
        qs = qs.filter(pilot__sector=sector)
    if country:
        qs = qs.filter(pilot__hub__country=country)
    if hub:
        qs = qs.filter(pilot__hub__slug=hub)
    if q:
        qs = qs.filter(
            Q(headline__icontains=q)
            | Q(pilot__title__icontains=q)
            | Q(story__icontains=q)
            | Q(pilot__summary__icontains=q)
        )
    adaptations = (
        Pilot.objects.filter(adapted_from=OuterRef("pilot_id"))
        .order_by()
        .values("adapted_from")
        .annotate(n=Count("pk"))
    )
    return (
        qs.select_related("pilot", "pilot__hub", "pilot__adapted_from", "pilot__adapted_from__hub")
        .annotate(
            adaptation_count=Coalesce(Subquery(adaptations.values("n")[:1], output_field=IntegerField()), Value(0))
        )
        .prefetch_related(
            Prefetch(
                "pilot__adaptations",
                queryset=Pilot.objects.select_related("hub").order_by("created_at", "pk"),
                to_attr="adaptation_list",
            )
        )
        .order_by("-published_at", "-pk")
    )


def case_study_parts(case_study) -> dict:
    pilot = case_study.pilot
    adaptations = list(pilot.adaptations.select_related("hub", "case_study").order_by("created_at", "pk"))
    hubs = [pilot.hub]
    if pilot.adapted_from_id and pilot.adapted_from is not None:
        hubs.append(pilot.adapted_from.hub)
    for a in adaptations:
        if a.hub not in hubs:
            hubs.append(a.hub)
    return {
        "partners": list(pilot.partners.all()),
        "metrics": list(pilot.metrics.all()),
        "milestones": list(pilot.milestones.all()),
        "adaptations": adaptations,
        "hubs_involved": hubs,
    }
