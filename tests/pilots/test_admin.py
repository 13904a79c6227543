"""The pilots admin: scoped to the staff member's hubs, actions through the services, CSV export."""

import pytest
from django.urls import reverse

from gigafactory.audit import audit_trail_for
from pilots.models import PilotStatus

from .factories import PartnerFactory, PilotFactory, case_study, publish

pytestmark = pytest.mark.django_db


def test_staff_see_only_their_hubs_pilots(staff_client, hub, other_hub, django_assert_max_num_queries):
    for i in range(5):
        PilotFactory(hub=hub, title=f"Ours {i}")
    theirs = PilotFactory(hub=other_hub, title="Theirs")
    # session, user, roles, MFA, counts, page, filter choices, ... : the same with more rows
    with django_assert_max_num_queries(13):
        body = staff_client.get(reverse("admin:pilots_pilot_changelist")).content.decode()
    for i in range(10):
        PilotFactory(hub=hub, title=f"More {i}", adapted_from=PilotFactory(hub=other_hub))
    with django_assert_max_num_queries(13):
        staff_client.get(reverse("admin:pilots_pilot_changelist"))
    assert "Ours 4" in body
    assert "Theirs" not in body
    response = staff_client.get(reverse("admin:pilots_pilot_change", args=[theirs.pk]))
    assert response.status_code == 302  # Django's admin: "doesn't exist" redirect to the index


def test_change_page_with_inlines_and_hub_checks(staff_client, hub, other_hub):
    from tests.compute.factories import ProjectFactory

    pilot = PilotFactory(hub=hub)
    PartnerFactory(pilot=pilot, name="Helen Oy")
    body = staff_client.get(reverse("admin:pilots_pilot_change", args=[pilot.pk])).content.decode()
    assert "Helen Oy" in body
    foreign = ProjectFactory(hub=other_hub, title="Foreign project")
    data = {
        "hub": hub.pk,
        "title": pilot.title,
        "summary": pilot.summary,
        "sector": pilot.sector,
        "starts_on": pilot.starts_on.isoformat(),
        "ends_on": pilot.ends_on.isoformat(),
        "projects": str(foreign.pk),
        "lessons_learned": "",
        "partners-TOTAL_FORMS": "0",
        "partners-INITIAL_FORMS": "0",
        "milestones-TOTAL_FORMS": "0",
        "milestones-INITIAL_FORMS": "0",
        "metrics-TOTAL_FORMS": "0",
        "metrics-INITIAL_FORMS": "0",
    }
    response = staff_client.post(reverse("admin:pilots_pilot_change", args=[pilot.pk]), data)
    assert response.status_code == 200
    assert "Not a project of" in response.content.decode()
    assert not pilot.projects.exists()


def test_start_action_runs_the_service(staff_client, hub):
    proposed = PilotFactory(hub=hub)
    done = PilotFactory(hub=hub, status=PilotStatus.COMPLETED)
    response = staff_client.post(
        reverse("admin:pilots_pilot_changelist"),
        {"action": "start_pilots", "_selected_action": [proposed.pk, done.pk]},
        follow=True,
    )
    proposed.refresh_from_db()
    assert proposed.status == PilotStatus.ACTIVE
    assert audit_trail_for(proposed).first().action == "pilot.started"
    assert "Cannot start the pilot" in response.content.decode()


def test_case_studies_are_scoped_withdrawn_and_exported(staff_client, hub, staff, other_hub):
    ours = publish(PilotFactory(hub=hub, title="Scan triage"), by=staff)
    theirs = case_study(hub=other_hub, title="Other story")
    body = staff_client.get(reverse("admin:pilots_casestudy_changelist")).content.decode()
    assert ours.headline in body
    assert theirs.headline not in body
    response = staff_client.post(
        reverse("admin:pilots_casestudy_changelist"),
        {"action": "export_csv", "_selected_action": [ours.pk, theirs.pk]},
    )
    text = response.content.decode()
    assert ours.headline in text
    assert theirs.headline not in text
    staff_client.post(
        reverse("admin:pilots_casestudy_changelist"),
        {"action": "withdraw_case_studies", "_selected_action": [ours.pk]},
    )
    ours.refresh_from_db()
    assert ours.withdrawn_at is not None


def test_members_have_no_admin(client, member, hub):
    PilotFactory(hub=hub)
    client.force_login(member)
    assert client.get(reverse("admin:pilots_pilot_changelist")).status_code == 302
