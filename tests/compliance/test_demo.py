"""The compliance demo: the essay's five AI systems, classified, with checklists partly done, ethics
boards, one sign-off that lets its applications through screening and one review still waiting, and
the fairness and drift history; a second ``seed_demo`` adds nothing.

The whole demo network is seeded once for this module (inside a transaction rolled back at the end);
each test runs in its own savepoint on top of it.
"""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction

from compliance import screening as ai_act
from compliance import selectors
from compliance.assurance.models import DriftBatch, FairnessCheck, TrustAnchor
from compliance.models import AISystem, BoardMember, BoardReview, Evidence, EvidenceKind, ItemStatus, ReviewStatus
from compute import screening
from compute import services as compute_services
from compute.models import Application, AppStatus
from hubs.models import Notification, User

APPS = ("compliance", "assurance", "hubs", "compute", "pilots", "gigafactory")

MAMMOGRAPHY = "Lyon hospital mammography triage"
SMART_GRID = "Helsinki smart-grid optimiser"
CROP = "Ebro crop water-need predictor"
WIND = "Norrbotten wind-farm output optimiser"
CHATBOT = "Retail chatbot for online shoppers"


def counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label in APPS}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed twice; yield the row counts after each run and the first run's output."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        first = counts()
        call_command("seed_demo", stdout=StringIO())
        yield {"first": first, "second": counts(), "output": out.getvalue()}
        transaction.set_rollback(True)


@pytest.fixture
def system(seeded, db):
    return lambda name: AISystem.objects.select_related("hub", "owner").get(name=name)


def test_a_second_seed_changes_nothing(seeded):
    assert seeded["second"] == seeded["first"]
    assert "seeding compliance …" in seeded["output"]
    assert "AI systems: 5 (5 new)" in seeded["output"]


def test_the_essays_five_systems_are_classified(system):
    expected = {
        MAMMOGRAPHY: ("lyon", "high_risk_annex_i", ""),
        SMART_GRID: ("helsinki", "high_risk_annex_iii", "2-electricity"),
        CROP: ("zaragoza", "minimal", ""),
        WIND: ("lulea", "minimal", ""),
        CHATBOT: ("berlin", "transparency", ""),
    }
    for name, (hub, risk_class, point) in expected.items():
        s = system(name)
        assert (s.hub.slug, s.risk_class, s.annex_iii_point) == (hub, risk_class, point), name
        latest = selectors.latest_assessment(s)
        assert latest.submitted_by == s.owner
        assert latest.reasoning, name
    assert selectors.latest_assessment(system(MAMMOGRAPHY)).annex_i_section == "A"  # medical devices (MDR)
    assert "Art. 6(1a), 6(1b)" in [a for _c, a in selectors.latest_assessment(system(WIND)).reasoning]
    assert [d["duty"] for d in selectors.latest_assessment(system(CHATBOT)).transparency_duties] == ["50(1)", "50(2)"]
    assert AISystem.objects.count() == 5


def test_every_checklist_is_partly_done_with_evidence(system):
    for name in (MAMMOGRAPHY, SMART_GRID, CROP, WIND, CHATBOT):
        s = system(name)
        progress = selectors.progress(s)
        assert 0 < progress.closed < progress.total, name
        items = list(selectors.checklist(s))
        done = [i for i in items if i.status == ItemStatus.DONE]
        assert done, name
        assert all(i.evidence_count for i in done), name
        assert any(i.status == ItemStatus.TODO for i in items), name
        assert Evidence.objects.filter(item__system=s, kind=EvidenceKind.FILE).exists(), name
    in_progress = [i for i in selectors.checklist(system(SMART_GRID)) if i.status == ItemStatus.IN_PROGRESS]
    assert in_progress
    assert all(i.evidence_count for i in in_progress)


def test_each_hub_with_systems_has_an_ethics_board_beside_the_owner(system):
    for name in (MAMMOGRAPHY, SMART_GRID, CROP, WIND, CHATBOT):
        s = system(name)
        seats = BoardMember.objects.filter(hub=s.hub, active=True).exclude(user=s.owner)
        assert seats.exists(), s.hub
        for seat in seats:
            assert seat.user.memberships.filter(hub=s.hub, status="active").exists()


def test_the_mammography_model_is_signed_off_and_its_applications_pass_screening(system):
    s = system(MAMMOGRAPHY)
    decisions = list(
        BoardReview.objects.filter(system=s).order_by("requested_at", "id").values_list("status", flat=True)
    )
    assert decisions == [ReviewStatus.REJECTED, ReviewStatus.APPROVED]
    signoff = selectors.valid_signoff(s)
    assert signoff is not None
    assert signoff.decided_by.email == "reviewer@gigafactory.test"
    assert selectors.gate_problem(s) is None
    linked = list(s.applications.order_by("title"))
    assert [a.title for a in linked] == [
        "Radiology FM: evaluation sweep",
        "Radiology FM: pre-training on three hospitals' scans",
    ]
    for application in linked:
        assert ai_act.classified_and_signed_off(application)[0]

    # The team fixes what staff asked for and submits again: screening passes, the AI Act check too.
    sweep = linked[0]
    assert sweep.status == AppStatus.CHANGES_REQUESTED
    pi = sweep.project.pi
    compute_services.application_update_draft(application=sweep, acting_user=pi, civilian_use=True)
    compute_services.application_submit(application=sweep, acting_user=pi)
    sweep.refresh_from_db()
    assert screening.screen_and_decide(application_id=sweep.pk, screening_round=sweep.screening_round) == "approved"
    check = sweep.screening_results.get(round=sweep.screening_round, check_key="ai_act_signoff")
    assert check.passed
    assert MAMMOGRAPHY in check.reason


def test_the_smart_grid_optimiser_still_waits_for_the_helsinki_board(system):
    s = system(SMART_GRID)
    pending = selectors.pending_review(s)
    assert pending is not None
    assert selectors.valid_signoff(s) is None
    assert "ethics board has not approved" in selectors.gate_problem(s)
    waiting = s.applications.get(status=AppStatus.IN_REVIEW)
    assert "ethics board" in screening.approval_problem(waiting)
    chair = User.objects.get(email="helsinki.staff@gigafactory.test")
    assert Notification.objects.filter(user=chair, kind="compliance.review_requested").exists()


def test_systems_are_linked_to_the_demo_projects_applications_and_pilots(system):
    links = {
        MAMMOGRAPHY: ("Radiology foundation model", None),
        SMART_GRID: ("Smart-grid load forecasting", "Tuning smart-grid algorithms with Helsinki's utilities"),
        CROP: ("Ebro irrigation forecasting", "Predicting water needs on Ebro valley farms"),
        WIND: ("Wind-farm output forecasting", "Wind-farm output forecasting in Norrbotten"),
    }
    for name, (project, pilot) in links.items():
        s = system(name)
        assert [p.title for p in s.projects.all()] == [project], name
        assert s.applications.exists(), name
        assert all(a.hub_id == s.hub_id for a in s.applications.all())
        if pilot:
            assert [p.title for p in s.pilots.all()] == [pilot], name
    assert not system(CHATBOT).projects.exists()


def test_fairness_and_drift_runs_have_history(system):
    for name, runs in ((MAMMOGRAPHY, 3), (CROP, 2), (CHATBOT, 2), (SMART_GRID, 0), (WIND, 0)):
        s = system(name)
        assert FairnessCheck.objects.filter(system=s).count() == runs, name
        assert TrustAnchor.objects.filter(system=s).count() == 1, name
        batches = DriftBatch.objects.filter(system=s)
        assert batches.count() == 6, name
    assert DriftBatch.objects.filter(drifted=True).exists()
    assert DriftBatch.objects.filter(drifted=False).exists()


def test_the_seed_sends_no_mail(seeded, db):
    assert not Notification.objects.filter(emailed_at__isnull=True, user__email__endswith="@gigafactory.test").exists()
    assert Application.objects.filter(ai_systems__isnull=False).distinct().count() == 6
