"""The AI Act gate in the compute pipeline: screening checks and staff approval."""

import pytest

from compliance import services as compliance_services
from compute import screening
from compute import services as compute_services
from compute.models import MILLI, AppStatus, Track
from gigafactory.errors import InvalidTransition
from tests.compute.factories import ApplicationFactory, CallFactory, ProjectFactory, set_status

from .factories import HIGH_RISK, MINIMAL, PROHIBITED, classify

A = AppStatus


@pytest.fixture
def application(hub, member, system):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=1000 * MILLI)
    project = ProjectFactory(hub=hub, pi=member)
    application = set_status(ApplicationFactory(call=call, project=project, applicant=member), A.SUBMITTED)
    compliance_services.system_link(system=system, acting_user=member, applications=[application])
    return application


def screen(application):
    outcome = screening.screen_and_decide(application_id=application.pk, screening_round=1)
    application.refresh_from_db()
    return outcome


def result(application, key):
    return application.screening_results.get(check_key=key)


def test_unsigned_high_risk_system_blocks_approval_until_the_board_signs_off(application, system, member, board, staff):
    classify(system, member, **HIGH_RISK)
    assert screen(application) == "in_review"  # fast lane, but a check failed: staff decide
    check = result(application, "ai_act_signoff")
    assert not check.passed
    assert "ethics board has not approved" in check.reason
    assert "ethics board" in application.decision_reason  # shown to the applicant

    with pytest.raises(InvalidTransition, match="ethics board"):
        compute_services.application_approve(application=application, acting_user=staff)
    application.refresh_from_db()
    assert application.status == A.IN_REVIEW

    review = compliance_services.board_review_request(system=system, acting_user=member)
    compliance_services.board_review_decide(review=review, acting_user=board, decision="approved", rationale="Sound")
    compute_services.application_approve(application=application, acting_user=staff)
    application.refresh_from_db()
    assert application.status == A.APPROVED


def test_signed_off_high_risk_system_passes_screening(application, system, member, board):
    classify(system, member, **HIGH_RISK)
    review = compliance_services.board_review_request(system=system, acting_user=member)
    compliance_services.board_review_decide(review=review, acting_user=board, decision="approved", rationale="Sound")
    assert screen(application) == "approved"
    assert result(application, "ai_act_signoff").passed


def test_prohibited_system_is_rejected_by_screening_on_any_track(application, system, member):
    classify(system, member, **PROHIBITED)
    assert screen(application) == "rejected"
    check = result(application, "ai_act_prohibited")
    assert not check.passed
    assert "prohibited practice" in check.reason
    assert application.status == A.REJECTED
    assert "prohibited practice" in application.decision_reason


def test_unclassified_system_fails_and_minimal_system_passes(application, system, member):
    assert screen(application) == "in_review"
    assert "not been classified" in result(application, "ai_act_signoff").reason


def test_minimal_risk_system_passes_without_board(application, system, member):
    classify(system, member, **MINIMAL)
    assert screen(application) == "approved"
    assert result(application, "ai_act_prohibited").passed
    assert result(application, "ai_act_signoff").passed


def test_application_without_ai_system_passes(hub, member):
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=1000 * MILLI)
    application = set_status(
        ApplicationFactory(call=call, project=ProjectFactory(hub=hub, pi=member), applicant=member), A.SUBMITTED
    )
    assert screen(application) == "approved"
    assert result(application, "ai_act_signoff").reason == "No AI system is linked to this application."


def test_the_application_page_links_the_ai_systems_screening_checks(client, application, system, member, hub):
    from django.urls import reverse

    from compute.models import Review
    from hubs.models import Role
    from tests.conftest import verified_user
    from tests.factories import MembershipFactory

    classify(system, member, **HIGH_RISK)
    url = reverse("compute:application_detail", args=[application.pk])
    client.force_login(member)
    page = client.get(url).content.decode()
    assert f'href="{system.get_absolute_url()}"' in page
    assert "Mammography triage</a> (High-risk: Annex III use case" in page
    # A reviewer reads the application but not the system's compliance pages: no link to them.
    reviewer = verified_user(name="Rita Reviewer")
    MembershipFactory(user=reviewer, hub=hub, role=Role.REVIEWER)
    Review.objects.create(application=application, reviewer=reviewer)
    client.force_login(reviewer)
    page = client.get(url)
    assert page.status_code == 200
    assert system.get_absolute_url() not in page.content.decode()
