"""Pilot services: create and edit with rows, transitions, publishing, adaptation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from hubs.models import Notification
from pilots import services
from pilots.models import CaseStudy, Milestone, OutcomeMetric, Pilot, PilotPartner, PilotStatus
from tests.compute.factories import ProjectFactory

from .conftest import make_member, make_staff
from .factories import MetricFactory, MilestoneFactory, PilotFactory, publish

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 1)

PARTNERS = [
    {"name": "Hospices Civils de Lyon", "role": "hospital", "contribution": "Anonymised scans"},
    {"name": "Métropole de Lyon", "role": "city_council"},
]
MILESTONES = [
    {"title": "Data-sharing agreement signed", "due_on": dt.date(2026, 4, 1), "done": True},
    {"title": "First model in the reading room", "due_on": dt.date(2026, 9, 1)},
]
METRICS = [
    {"name": "Time to report", "unit": "minutes", "baseline": "45", "target": "20", "achieved": "25"},
    {"name": "Scans triaged per day", "unit": "scans", "baseline": 120, "target": 400},
]


def create(hub, user, **kwargs):
    data = {
        "title": "Medical scan triage",
        "summary": "Radiologists get a second reader for chest CTs.",
        "sector": "health",
        "starts_on": TODAY,
        "ends_on": TODAY + dt.timedelta(days=365),
        "partners": PARTNERS,
        "milestones": MILESTONES,
        "metrics": METRICS,
    } | kwargs
    return services.pilot_create(hub=hub, acting_user=user, **data)


# --- Create and edit ------------------------------------------------------------------------------


def test_staff_create_a_pilot_with_partners_milestones_and_metrics(hub, staff):
    pilot = create(hub, staff)
    assert pilot.status == PilotStatus.PROPOSED
    assert pilot.lead == staff
    assert [p.name for p in pilot.partners.all()] == ["Hospices Civils de Lyon", "Métropole de Lyon"]
    done = pilot.milestones.get(title="Data-sharing agreement signed")
    assert done.done
    assert done.done_on == timezone.localdate()
    assert [(m.name, m.achieved) for m in pilot.metrics.all()] == [
        ("Time to report", Decimal("25")),
        ("Scans triaged per day", None),
    ]
    assert [e.action for e in audit_trail_for(pilot)] == ["pilot.created"]


def test_a_project_lead_may_start_a_pilot_at_their_hub_but_a_plain_member_may_not(hub, member):
    with pytest.raises(PermissionDenied):
        create(hub, member)
    ProjectFactory(hub=hub, pi=member)
    pilot = create(hub, member)
    assert pilot.lead == member


def test_staff_of_another_hub_cannot_start_a_pilot_here(hub, other_staff):
    with pytest.raises(PermissionDenied):
        create(hub, other_staff)
    assert not Pilot.objects.exists()


def test_a_bad_row_names_the_row_and_nothing_is_written(hub, staff):
    metrics = [*METRICS, {"name": "Energy", "unit": "kWh", "baseline": "ten", "target": "5"}]
    with pytest.raises(ValidationError) as exc:
        create(hub, staff, metrics=metrics)
    assert "Metric 3 (“Energy”), baseline" in " ".join(exc.value.message_dict["metrics"])
    assert not Pilot.objects.exists()
    assert not OutcomeMetric.objects.exists()


def test_duplicate_partner_and_equal_baseline_and_target_are_refused(hub, staff):
    with pytest.raises(ValidationError) as exc:
        create(
            hub,
            staff,
            partners=[*PARTNERS, {"name": "hospices civils de lyon", "role": "hospital"}],
            metrics=[{"name": "Flat", "baseline": 1, "target": 1}],
        )
    errors = exc.value.message_dict
    assert "Partner 3 (“hospices civils de lyon”): this partner is listed twice." in errors["partners"]
    assert "Metric 1 (“Flat”): the target must differ from the baseline." in errors["metrics"]


def test_end_before_start_is_refused_on_the_end_date(hub, staff):
    with pytest.raises(ValidationError) as exc:
        create(hub, staff, ends_on=TODAY - dt.timedelta(days=1))
    assert exc.value.message_dict["ends_on"] == ["The end date cannot be before the start date."]


def test_update_replaces_rows_and_records_what_changed(hub, staff):
    pilot = create(hub, staff)
    services.pilot_update(
        pilot=pilot,
        acting_user=staff,
        title="Medical scan triage in Lyon",
        partners=[{"name": "Hospices Civils de Lyon", "role": "hospital"}],
        milestones=[],
    )
    pilot.refresh_from_db()
    assert pilot.title == "Medical scan triage in Lyon"
    assert PilotPartner.objects.filter(pilot=pilot).count() == 1
    assert not Milestone.objects.filter(pilot=pilot).exists()
    assert OutcomeMetric.objects.filter(pilot=pilot).count() == 2  # not given: left as it is
    event = audit_trail_for(pilot).first()
    assert event.action == "pilot.updated"
    assert event.after["title"] == "Medical scan triage in Lyon"


def test_staff_of_another_hub_cannot_edit_and_the_lead_can(hub, staff, other_staff, member):
    pilot = create(hub, staff, lead=member)
    with pytest.raises(Http404):
        services.pilot_update(pilot=pilot, acting_user=other_staff, title="Hijacked")
    services.pilot_update(pilot=pilot, acting_user=member, lessons_learned="Start with the data agreement.")
    pilot.refresh_from_db()
    assert pilot.title == "Medical scan triage"
    assert pilot.lessons_learned == "Start with the data agreement."


def test_lead_must_be_a_member_of_the_hub(hub, staff, other_staff):
    with pytest.raises(ValidationError) as exc:
        create(hub, staff, lead=other_staff)
    assert "is not an active member of" in exc.value.message_dict["lead"][0]


def test_projects_and_allocations_of_another_hub_cannot_be_linked(hub, other_hub, staff):
    foreign = ProjectFactory(hub=other_hub)
    with pytest.raises(ValidationError) as exc:
        create(hub, staff, projects=[foreign])
    assert "projects" in exc.value.message_dict
    mine = ProjectFactory(hub=hub)
    pilot = create(hub, staff, projects=[mine])
    assert list(pilot.projects.all()) == [mine]


# --- Transitions --------------------------------------------------------------------------------------


def test_start_then_complete_with_audit_trail_and_team_notified(hub, staff, member):
    pilot = create(hub, staff, team=[member])
    services.pilot_start(pilot=pilot, acting_user=staff)
    pilot = services.pilot_complete(pilot=pilot, acting_user=staff)
    assert pilot.status == PilotStatus.COMPLETED
    actions = [e.action for e in audit_trail_for(pilot)]
    assert actions[:2] == ["pilot.completed", "pilot.started"]
    titles = set(Notification.objects.filter(user=member).values_list("title", flat=True))
    assert titles == {"The pilot “Medical scan triage” was started", "The pilot “Medical scan triage” was completed"}


def test_not_allowed_transitions_are_refused(hub, staff):
    pilot = create(hub, staff)
    with pytest.raises(InvalidTransition, match=r"Cannot complete the pilot .* while it is proposed"):
        services.pilot_complete(pilot=pilot, acting_user=staff)
    services.pilot_start(pilot=pilot, acting_user=staff)
    with pytest.raises(InvalidTransition):
        services.pilot_start(pilot=pilot, acting_user=staff)


def test_stopping_needs_a_reason_and_fills_the_end_date(hub, staff):
    pilot = PilotFactory(hub=hub, status=PilotStatus.ACTIVE, ends_on=None)
    with pytest.raises(ValidationError):
        services.pilot_stop(pilot=pilot, acting_user=staff, reason=" ")
    pilot = services.pilot_stop(pilot=pilot, acting_user=staff, reason="The hospital left the project.")
    assert pilot.status == PilotStatus.STOPPED
    assert pilot.ends_on == timezone.localdate()
    assert pilot.stop_reason == "The hospital left the project."


def test_staff_of_another_hub_cannot_change_the_status(hub, other_staff):
    pilot = PilotFactory(hub=hub)
    with pytest.raises(Http404):
        services.pilot_start(pilot=pilot, acting_user=other_staff)
    pilot.refresh_from_db()
    assert pilot.status == PilotStatus.PROPOSED


# --- Publishing ----------------------------------------------------------------------------------------


def test_publishing_an_active_pilot_emits_pilot_published(
    hub, staff, captured_events, django_capture_on_commit_callbacks
):
    pilot = PilotFactory(hub=hub, status=PilotStatus.ACTIVE, sector="health")
    with django_capture_on_commit_callbacks(execute=True):
        case_study = services.case_study_publish(
            pilot=pilot, headline="Scans read in half the time", story="The story.", acting_user=staff
        )
    assert case_study.slug.startswith("lyon-pilot")
    [event] = [e for e in captured_events if e.type == "pilot.published"]
    assert event.hub_id == hub.pk
    assert event.sector == "health"
    assert event.payload["case_study"]["slug"] == case_study.slug
    # Editing the story later is no new publication.
    with django_capture_on_commit_callbacks(execute=True):
        services.case_study_publish(pilot=pilot, headline="Scans read faster", story="Longer.", acting_user=staff)
    assert len([e for e in captured_events if e.type == "pilot.published"]) == 1
    assert CaseStudy.objects.get().headline == "Scans read faster"


def test_a_proposed_pilot_cannot_be_published_and_only_staff_publish(hub, staff, member):
    pilot = PilotFactory(hub=hub, lead=member)
    with pytest.raises(InvalidTransition, match="Only an active or completed pilot"):
        services.case_study_publish(pilot=pilot, headline="x", story="y", acting_user=staff)
    pilot.status = PilotStatus.ACTIVE
    pilot.save()
    with pytest.raises(PermissionDenied):
        services.case_study_publish(pilot=pilot, headline="x", story="y", acting_user=member)
    with pytest.raises(ValidationError) as exc:
        services.case_study_publish(pilot=pilot, headline=" ", story="", acting_user=staff)
    assert set(exc.value.message_dict) == {"headline", "story"}
    assert not CaseStudy.objects.exists()


def test_withdrawn_case_study_can_be_published_again(hub, staff, captured_events, django_capture_on_commit_callbacks):
    pilot = PilotFactory(hub=hub, status=PilotStatus.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        case_study = services.case_study_publish(pilot=pilot, headline="h", story="s", acting_user=staff)
        services.case_study_withdraw(case_study=case_study, acting_user=staff)
        with pytest.raises(InvalidTransition):
            services.case_study_withdraw(case_study=case_study, acting_user=staff)
        services.case_study_publish(pilot=pilot, headline="h2", story="s", acting_user=staff)
    case_study.refresh_from_db()
    assert case_study.withdrawn_at is None
    assert len([e for e in captured_events if e.type == "pilot.published"]) == 2


# --- Adaptation -------------------------------------------------------------------------------------------


@pytest.fixture
def lisbon_case(lisbon, lisbon_staff):
    member = make_member(lisbon, "Teresa Team")
    pilot = PilotFactory(
        hub=lisbon, title="Open data for school meals", sector="education", team=[member], lead=lisbon_staff
    )
    MetricFactory(pilot=pilot, name="Food waste", unit="kg/week", baseline=200, target=120, achieved=130)
    MilestoneFactory(pilot=pilot, title="Menu planner live", due_on=pilot.starts_on + dt.timedelta(days=90))
    return publish(pilot, by=lisbon_staff), member


def test_staff_of_another_hub_adapt_a_case_study(
    lisbon_case, lisbon_staff, zagreb, zagreb_staff, captured_events, django_capture_on_commit_callbacks
):
    case_study, team_member = lisbon_case
    original = case_study.pilot
    with django_capture_on_commit_callbacks(execute=True):
        pilot, created = services.pilot_adapt(
            original=original, hub=zagreb, acting_user=zagreb_staff, note="For Zagreb's primary schools."
        )
    assert created
    assert pilot.hub == zagreb
    assert pilot.adapted_from == original
    assert pilot.status == PilotStatus.PROPOSED
    assert pilot.title == "Open data for school meals, adapted in Zagreb"
    assert pilot.lead == zagreb_staff
    assert list(pilot.team.all()) == [zagreb_staff]
    [metric] = pilot.metrics.all()
    assert (metric.name, metric.baseline, metric.target, metric.achieved) == ("Food waste", 200, 120, None)
    [milestone] = pilot.milestones.all()
    assert milestone.due_on == timezone.localdate() + dt.timedelta(days=90)
    assert not milestone.done
    assert not pilot.partners.exists()
    # The original hub's staff and the pilot's team hear of it; the adapter does not.
    for user in (lisbon_staff, team_member):
        note = Notification.objects.get(user=user, kind="pilot.adapted")
        assert note.title == "Zagreb AI Gigafactory is adapting your pilot “Open data for school meals”"
        assert note.url == case_study.get_absolute_url()
    assert not Notification.objects.filter(user=zagreb_staff, kind="pilot.adapted").exists()
    [event] = [e for e in captured_events if e.type == "pilot.adapted"]
    assert event.hub_id == original.hub_id
    assert event.payload["adaptation"]["hub"]["slug"] == "zagreb"
    assert next(e.action for e in audit_trail_for(original)) == "pilot.adaptation_started"


def test_adapting_twice_returns_the_first_adaptation(lisbon_case, zagreb, zagreb_staff):
    original = lisbon_case[0].pilot
    first, created = services.pilot_adapt(original=original, hub=zagreb, acting_user=zagreb_staff)
    colleague = make_staff(zagreb, "Second Staff")
    again, created_again = services.pilot_adapt(original=original, hub=zagreb, acting_user=colleague)
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Pilot.objects.filter(adapted_from=original).count() == 1
    assert Notification.objects.filter(kind="pilot.adapted").count() == 2  # Lisbon staff + team, once


def test_a_hub_cannot_adapt_its_own_pilot(lisbon_case, lisbon, lisbon_staff):
    with pytest.raises(ValidationError) as exc:
        services.pilot_adapt(original=lisbon_case[0].pilot, hub=lisbon, acting_user=lisbon_staff)
    assert "hub" in exc.value.message_dict


def test_only_staff_of_the_adapting_hub_adapt(lisbon_case, zagreb):
    member = make_member(zagreb)
    with pytest.raises(PermissionDenied):
        services.pilot_adapt(original=lisbon_case[0].pilot, hub=zagreb, acting_user=member)


def test_a_pilot_without_a_public_case_study_cannot_be_adapted(lisbon, lisbon_staff, zagreb, zagreb_staff):
    pilot = PilotFactory(hub=lisbon, status=PilotStatus.COMPLETED)
    with pytest.raises(InvalidTransition, match="no published case study"):
        services.pilot_adapt(original=pilot, hub=zagreb, acting_user=zagreb_staff)
    case_study = publish(pilot, by=lisbon_staff)
    services.case_study_withdraw(case_study=case_study, acting_user=lisbon_staff)
    with pytest.raises(InvalidTransition):
        services.pilot_adapt(original=pilot, hub=zagreb, acting_user=zagreb_staff)
