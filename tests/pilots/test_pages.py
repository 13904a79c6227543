"""Pilot pages, the showcase, case studies and adapting from the browser side."""

import datetime as dt

import pytest
from django.urls import reverse

from hubs.models import Notification
from pilots.models import Pilot, PilotStatus
from tests.compute.factories import ProjectFactory
from tests.factories import HubFactory

from .conftest import make_member
from .factories import MetricFactory, MilestoneFactory, PartnerFactory, PilotFactory, case_study, publish

pytestmark = pytest.mark.django_db


def formset_data(prefix, rows):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def pilot_post(hub=None, *, metrics=None, **fields):
    data = {
        "title": "Smart-grid tuning",
        "summary": "Utilities tune grid algorithms on shared GPUs.",
        "sector": "energy",
        "starts_on": "2026-01-10",
        "ends_on": "2026-12-20",
    } | fields
    if hub is not None:
        data["hub"] = str(hub.pk)
    data |= formset_data("partners", [{"name": "Helen Oy", "role": "utility", "contribution": "Grid data"}])
    data |= formset_data("milestones", [{"title": "Data pipeline", "due_on": "2026-03-01"}])
    data |= formset_data(
        "metrics",
        metrics if metrics is not None else [{"name": "Peak load", "unit": "MW", "baseline": "410", "target": "380"}],
    )
    return data


# --- Creating and editing ------------------------------------------------------------------------------


def test_staff_create_a_pilot_in_the_browser(staff_client, hub):
    response = staff_client.get(reverse("pilots:pilot_create"))
    assert response.status_code == 200
    assert b"Start a pilot" in response.content
    response = staff_client.post(reverse("pilots:pilot_create"), pilot_post(hub))
    pilot = Pilot.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("pilots:pilot_edit", args=[pilot.pk])
    assert [p.name for p in pilot.partners.all()] == ["Helen Oy"]
    assert pilot.metrics.get().name == "Peak load"


def test_a_bad_metric_row_is_shown_and_nothing_is_saved(staff_client, hub):
    metrics = [{"name": "Peak load", "unit": "MW", "baseline": "410", "target": "not a number"}]
    response = staff_client.post(reverse("pilots:pilot_create"), pilot_post(hub, metrics=metrics))
    assert response.status_code == 200
    assert "Please correct the errors below; nothing was saved." in response.content.decode()
    assert "Enter a number." in response.content.decode()
    assert not Pilot.objects.exists()


def test_a_member_without_a_project_cannot_start_a_pilot(client, member, hub):
    client.force_login(member)
    response = client.get(reverse("pilots:pilot_create"), follow=True)
    assert "Pilots are started by hub staff and by leads of compute projects" in response.content.decode()
    ProjectFactory(hub=hub, pi=member)
    assert client.get(reverse("pilots:pilot_create")).status_code == 200


def test_staff_edit_team_and_rows(staff_client, hub, member):
    pilot = PilotFactory(hub=hub)
    PartnerFactory(pilot=pilot, name="Old partner")
    response = staff_client.get(reverse("pilots:pilot_edit", args=[pilot.pk]))
    assert response.status_code == 200
    assert b"Old partner" in response.content
    data = pilot_post(team=[str(member.pk)], lead=str(member.pk), lessons_learned="Begin with the data.")
    response = staff_client.post(reverse("pilots:pilot_edit", args=[pilot.pk]), data)
    assert response.status_code == 302
    pilot.refresh_from_db()
    assert pilot.lead == member
    assert list(pilot.team.all()) == [member]
    assert [p.name for p in pilot.partners.all()] == ["Helen Oy"]


def test_staff_of_another_hub_cannot_see_edit_or_move_a_pilot(client, hub, other_staff):
    pilot = PilotFactory(hub=hub, title="Lyon only")
    client.force_login(other_staff)
    assert client.get(reverse("pilots:pilot_detail", args=[pilot.pk])).status_code == 404
    assert client.get(reverse("pilots:pilot_edit", args=[pilot.pk])).status_code == 404
    assert client.post(reverse("pilots:pilot_edit", args=[pilot.pk]), pilot_post(title="Hijacked")).status_code == 404
    assert client.post(reverse("pilots:pilot_transition", args=[pilot.pk, "start"])).status_code == 404
    assert client.post(reverse("pilots:pilot_stop", args=[pilot.pk]), {"reason": "x"}).status_code == 404
    assert client.get(reverse("pilots:pilot_publish", args=[pilot.pk])).status_code == 404
    pilot.refresh_from_db()
    assert (pilot.title, pilot.status) == ("Lyon only", PilotStatus.PROPOSED)


def test_a_member_of_the_hub_reads_but_cannot_edit(client, hub, member):
    pilot = PilotFactory(hub=hub)
    client.force_login(member)
    response = client.get(reverse("pilots:pilot_detail", args=[pilot.pk]))
    assert response.status_code == 200
    assert b"Edit the pilot" not in response.content
    assert client.get(reverse("pilots:pilot_edit", args=[pilot.pk])).status_code == 404


def test_start_stop_from_the_pilot_page(staff_client, hub):
    pilot = PilotFactory(hub=hub)
    staff_client.post(reverse("pilots:pilot_transition", args=[pilot.pk, "start"]))
    pilot.refresh_from_db()
    assert pilot.status == PilotStatus.ACTIVE
    response = staff_client.get(reverse("pilots:pilot_stop", args=[pilot.pk]))
    assert b"Stop the pilot" in response.content
    response = staff_client.post(reverse("pilots:pilot_stop", args=[pilot.pk]), {"reason": ""})
    assert b"This field is required." in response.content
    staff_client.post(reverse("pilots:pilot_stop", args=[pilot.pk]), {"reason": "Funding ended."})
    pilot.refresh_from_db()
    assert pilot.status == PilotStatus.STOPPED
    response = staff_client.post(reverse("pilots:pilot_transition", args=[pilot.pk, "complete"]), follow=True)
    assert "Cannot complete the pilot" in response.content.decode()


def test_pilot_page_shows_partners_milestones_and_the_outcome_chart(staff_client, hub):
    pilot = PilotFactory(hub=hub, status=PilotStatus.ACTIVE)
    PartnerFactory(pilot=pilot, name="Cooperativa Agraria del Ebro")
    MilestoneFactory(pilot=pilot, title="Sensors installed", done=True, done_on=dt.date(2026, 2, 1))
    MetricFactory(pilot=pilot, name="Water used", unit="m³/ha", baseline=5200, target=4200, achieved=4500)
    body = staff_client.get(reverse("pilots:pilot_detail", args=[pilot.pk])).content.decode()
    assert "Cooperativa Agraria del Ebro" in body
    assert "1 of 1 done" in body
    assert "<svg" in body
    assert "Water used, Achieved: 4,500" in body
    assert "Publish as a case study" in body


def test_pilot_list_query_count_is_constant(client, django_assert_max_num_queries, hub, member):
    for i in range(12):
        pilot = PilotFactory(hub=hub, title=f"Pilot {i}")
        MilestoneFactory(pilot=pilot)
    client.force_login(member)
    # session, user, roles (memoised), count, page, unread count, nav staff/reviewer flags
    with django_assert_max_num_queries(8):
        response = client.get(reverse("pilots:pilot_list"))
    assert response.content.decode().count('data-testid="pilot-row"') == 12
    response = client.get(reverse("pilots:pilot_list"), {"status": "active"})
    assert "No pilot matches these filters." in response.content.decode()


def test_pilot_page_query_count_is_constant(staff_client, hub, django_assert_max_num_queries):
    pilot = PilotFactory(hub=hub)
    for i in range(6):
        PartnerFactory(pilot=pilot)
        MilestoneFactory(pilot=pilot)
        MetricFactory(pilot=pilot, name=f"Metric {i}")
    with django_assert_max_num_queries(20):
        staff_client.get(reverse("pilots:pilot_detail", args=[pilot.pk]))
    for _ in range(6):
        PilotFactory(hub=HubFactory(), adapted_from=pilot)
    with django_assert_max_num_queries(20):
        assert staff_client.get(reverse("pilots:pilot_detail", args=[pilot.pk])).status_code == 200


# --- Publishing, showcase, case study --------------------------------------------------------------------


def test_staff_publish_from_the_page(staff_client, hub):
    pilot = PilotFactory(hub=hub, status=PilotStatus.COMPLETED, title="Scan triage")
    response = staff_client.post(
        reverse("pilots:pilot_publish", args=[pilot.pk]),
        {"headline": "Scans read in half the time", "story": "Radiologists and a model."},
    )
    cs = pilot.case_study
    assert response["Location"] == cs.get_absolute_url()
    body = staff_client.get(cs.get_absolute_url()).content.decode()
    assert "Scans read in half the time" in body
    assert "Adapt this pilot" not in body  # not for the pilot's own hub


def test_the_showcase_is_public_filterable_and_paginated(client, django_assert_max_num_queries):
    lisbon = HubFactory(slug="lisbon", name="Lisbon AI Gigafactory", city="Lisbon", country="PT")
    zagreb = HubFactory(slug="zagreb", name="Zagreb AI Gigafactory", city="Zagreb", country="HR")
    for i in range(14):
        cs = case_study(hub=lisbon, sector="education" if i % 2 else "health", title=f"Lisbon pilot {i}")
        PilotFactory(hub=zagreb, adapted_from=cs.pilot)
    case_study(hub=zagreb, sector="health", title="Zagreb clinic triage")
    hidden = case_study(hub=zagreb, title="Withdrawn story")
    hidden.withdrawn_at = hidden.published_at
    hidden.save()
    # hubs for the filter, count, page, adaptations prefetch
    with django_assert_max_num_queries(4):
        response = client.get(reverse("pilots:showcase"))
    body = response.content.decode()
    assert "15 case studies" in body
    assert body.count('data-testid="case-card"') == 12
    assert "Adapted 1 time: Zagreb" in body
    assert "Withdrawn story" not in body
    body = client.get(reverse("pilots:showcase"), {"country": "HR"}).content.decode()
    assert "1 case study" in body
    assert "Zagreb clinic triage" in body
    body = client.get(reverse("pilots:showcase"), {"sector": "education", "hub": "lisbon"}).content.decode()
    assert "7 case studies" in body
    body = client.get(reverse("pilots:showcase"), {"page": 2}).content.decode()
    assert body.count('data-testid="case-card"') == 3
    body = client.get(reverse("pilots:showcase"), {"q": "nothing like this"}).content.decode()
    assert "No case study matches these filters." in body


def test_case_study_page_shows_the_story_chart_partners_and_hubs(client, lisbon, zagreb):
    cs = case_study(hub=lisbon, title="School meals planner")
    PartnerFactory(pilot=cs.pilot, name="Escola Secundária de Camões", role="school")
    MetricFactory(pilot=cs.pilot, name="Food waste", unit="kg/week", baseline=200, target=120, achieved=130)
    PilotFactory(hub=zagreb, adapted_from=cs.pilot, title="Zagreb school meals")
    body = client.get(cs.get_absolute_url()).content.decode()
    assert cs.headline in body
    assert "Escola Secundária de Camões" in body
    assert "Food waste, Baseline: 200" in body
    assert "Zagreb school meals" in body  # adaptation shown on the original's page
    assert "Zagreb AI Gigafactory" in body  # hubs involved
    assert "Adapt this pilot" not in body  # anonymous visitor


def test_staff_of_another_hub_adapt_from_the_case_study_once(client, lisbon, lisbon_staff, zagreb, zagreb_staff):
    cs = publish(PilotFactory(hub=lisbon, title="School meals planner"), by=lisbon_staff)
    client.force_login(zagreb_staff)
    body = client.get(cs.get_absolute_url()).content.decode()
    assert "Adapt this pilot" in body
    url = reverse("pilots:case_study_adapt", args=[cs.slug])
    confirm = client.get(url).content.decode()
    assert "Yes, adapt this pilot" in confirm
    response = client.post(url, {"hub": zagreb.pk, "title": "", "note": "For Zagreb schools"})
    adapted = Pilot.objects.get(adapted_from=cs.pilot)
    assert response["Location"] == adapted.get_absolute_url()
    # A second click: the same pilot, nothing new, and the page says so.
    response = client.post(url, {"hub": zagreb.pk}, follow=True)
    assert "already adapts this pilot" in response.content.decode()
    assert Pilot.objects.filter(adapted_from=cs.pilot).count() == 1
    assert Notification.objects.filter(user=lisbon_staff, kind="pilot.adapted").count() == 1
    # Both pages show the link.
    body = client.get(adapted.get_absolute_url()).content.decode()
    assert "Adapted from <strong>School meals planner</strong> at Lisbon AI Gigafactory" in body
    assert "School meals planner, adapted in Zagreb" in client.get(cs.get_absolute_url()).content.decode()


def test_a_member_cannot_adapt(client, lisbon, lisbon_staff, zagreb):
    cs = publish(PilotFactory(hub=lisbon), by=lisbon_staff)
    client.force_login(make_member(zagreb))
    assert client.get(reverse("pilots:case_study_adapt", args=[cs.slug])).status_code == 403
    assert client.post(reverse("pilots:case_study_adapt", args=[cs.slug]), {"hub": zagreb.pk}).status_code == 403
    assert not Pilot.objects.filter(adapted_from=cs.pilot).exists()


def test_staff_without_mfa_are_sent_to_set_it_up_before_adapting(client, lisbon, lisbon_staff, zagreb):
    cs = publish(PilotFactory(hub=lisbon), by=lisbon_staff)
    user = make_member(zagreb)
    user.memberships.update(role="staff")
    user.is_staff = True
    user.save()
    user.authenticator_set.all().delete()
    client.force_login(user)
    response = client.get(reverse("pilots:case_study_adapt", args=[cs.slug]))
    assert response.status_code == 302
    assert "/accounts/2fa/" in response["Location"]


def test_staff_withdraw_a_case_study_after_confirming(staff_client, hub, staff):
    pilot = PilotFactory(hub=hub, status=PilotStatus.ACTIVE)
    cs = publish(pilot, by=staff)
    url = reverse("pilots:case_study_withdraw", args=[cs.slug])
    assert b"Withdraw the case study" in staff_client.get(url).content
    staff_client.post(url, {"reason": "Partner asked"})
    assert staff_client.get(cs.get_absolute_url()).status_code == 404


def test_other_hub_staff_cannot_withdraw(client, hub, staff, other_staff):
    cs = publish(PilotFactory(hub=hub, status=PilotStatus.ACTIVE), by=staff)
    client.force_login(other_staff)
    assert client.post(reverse("pilots:case_study_withdraw", args=[cs.slug])).status_code == 404
    cs.refresh_from_db()
    assert cs.withdrawn_at is None


def test_a_lisbon_lead_is_notified_in_the_inbox(client, lisbon, lisbon_staff, zagreb, zagreb_staff):
    lead = make_member(lisbon, "Lia Lead")
    cs = publish(PilotFactory(hub=lisbon, lead=lead), by=lisbon_staff)
    client.force_login(zagreb_staff)
    client.post(reverse("pilots:case_study_adapt", args=[cs.slug]), {"hub": zagreb.pk})
    client.force_login(lead)
    body = client.get(reverse("hubs:inbox")).content.decode()
    assert "Zagreb AI Gigafactory is adapting your pilot" in body
