"""API v1: AI systems, assessments, checklist items and evidence, the ethics board.

Callers use keys as partners and people do: personal keys (read or write) act as their user within
the key's hub; partner keys read their hub's systems and change nothing.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from compliance import selectors, services
from compliance.models import (
    AISystem,
    Assessment,
    AssessmentStatus,
    BoardMember,
    BoardReview,
    ChecklistItem,
    Evidence,
    ItemStatus,
    ReviewStatus,
    RiskClass,
)
from gigafactory.audit import audit_trail_for
from hubs.models import Role
from hubs.services import partner_system_create
from tests.compute.factories import ProjectFactory
from tests.conftest import enable_mfa, verified_user
from tests.factories import MembershipFactory, make_api_key
from tests.pilots.factories import PilotFactory

from .factories import HIGH_RISK, MINIMAL, AISystemFactory, BoardMemberFactory, answers, classify

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


def bearer(raw) -> APIClient:
    client = APIClient()
    client.default_format = "json"  # the API takes JSON (multipart only for evidence files)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def api_as(user, hub, scope="write") -> APIClient:
    """A personal key of ``user`` scoped to ``hub``."""
    _key, raw = make_api_key(hub=hub, user=user, scope=scope)
    return bearer(raw)


@pytest.fixture
def owner_api(member, hub):
    return api_as(member, hub)


@pytest.fixture
def partner_api(hub, staff):
    partner = partner_system_create(hub=hub, name="Lyon compliance dashboard", kind="monitoring", acting_user=staff)
    _key, raw = make_api_key(hub=hub, partner=partner, scope="write")
    return bearer(raw)


@pytest.fixture
def foreign_system(other_hub, organisation):
    owner = verified_user(name="Hanna Helsinki")
    MembershipFactory(user=owner, hub=other_hub)
    return AISystemFactory(hub=other_hub, owner=owner, organisation=organisation, name="Grid forecaster")


@pytest.fixture
def classified(system, member):
    """The system classified high-risk (Annex III 5(d)), with its checklist."""
    classify(system, member, **HIGH_RISK)
    system.refresh_from_db()
    return system


@pytest.fixture
def item(classified):
    return selectors.checklist_item_for_article(classified, "Art. 10")


def registration(hub, org, **overrides) -> dict:
    data = {
        "hub": hub.slug,
        "name": "Sepsis early warning",
        "organisation": org.pk,
        "intended_purpose": "Warns ward nurses of patients at risk of sepsis from their vital signs.",
        "role": "provider",
        "sector": "health",
        "input_modality": "time_series",
        "output_modality": "decision",
        "uses_personal_data": True,
        "uses_health_data": True,
        "deployment_status": "testing",
    }
    data.update(overrides)
    return data


# --- AI systems -------------------------------------------------------------------------------------


def test_a_member_registers_a_system_and_reads_it_back(owner_api, hub, member, organisation):
    response = owner_api.post("/api/v1/ai-systems/", registration(hub, organisation), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    system = AISystem.objects.get(pk=body["id"])
    assert (system.owner, system.hub, system.name) == (member, hub, "Sepsis early warning")
    assert body["owner"]["name"] == "Marie Member"
    assert body["hub"]["slug"] == "lyon"
    assert body["risk_class"] == ""
    assert body["risk_class_label"] == "Not assessed yet"
    assert body["progress"] == {"closed": 0, "total": 0, "percent": 0}
    assert body["draft_assessment"] is None
    assert body["latest_decision"] is None
    assert "not been classified" in body["credit_gate"]
    assert body["can_edit"] is True
    assert body["web_url"].endswith(system.get_absolute_url())
    assert owner_api.get(f"/api/v1/ai-systems/{system.pk}/").json()["name"] == "Sepsis early warning"
    assert audit_trail_for(system).filter(action="ai_system.registered").exists()


def test_staff_register_a_system_for_a_member_of_the_hub_only(staff, member, hub, organisation):
    staff_api = api_as(staff, hub)
    response = staff_api.post("/api/v1/ai-systems/", registration(hub, organisation, owner=member.pk), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["owner"]["id"] == member.pk
    outsider = verified_user(name="Not A Member")
    refused = staff_api.post(
        "/api/v1/ai-systems/", registration(hub, organisation, owner=outsider.pk, name="Other"), format="json"
    )
    assert refused.status_code == 400
    assert refused.json() == {"owner": [f"{outsider} is not an active member of {hub}."]}
    by_member = api_as(member, hub).post(
        "/api/v1/ai-systems/", registration(hub, organisation, owner=staff.pk, name="Third"), format="json"
    )
    assert by_member.status_code == 403
    assert list(AISystem.objects.values_list("name", flat=True)) == ["Sepsis early warning"]


def test_registration_errors_name_each_field_and_write_nothing(owner_api, hub, organisation, system):
    bad = registration(hub, organisation, sector="astrology", training_compute_flop=-1, name="")
    response = owner_api.post("/api/v1/ai-systems/", bad, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"sector", "training_compute_flop", "name"}
    assert "astrology" in response.json()["sector"][0]
    # The service catches a name already used at the hub, whatever its case.
    same_name = owner_api.post(
        "/api/v1/ai-systems/", registration(hub, organisation, name="MAMMOGRAPHY TRIAGE"), format="json"
    )
    assert same_name.status_code == 400
    assert same_name.json() == {"name": ["Lyon AI Gigafactory already has an AI system called 'MAMMOGRAPHY TRIAGE'."]}
    no_organisation = owner_api.post(
        "/api/v1/ai-systems/", registration(hub, organisation, organisation=None), format="json"
    )
    assert "organisation" in no_organisation.json()
    assert AISystem.objects.count() == 1


def test_a_key_registers_only_at_its_hub_and_read_only_keys_not_at_all(member, hub, other_hub, organisation):
    MembershipFactory(user=member, hub=other_hub)  # a member of both hubs, with a Lyon key
    lyon_key = api_as(member, hub)
    response = lyon_key.post("/api/v1/ai-systems/", registration(other_hub, organisation), format="json")
    assert response.status_code == 403
    assert "another hub" in response.json()["detail"]
    read_only = api_as(member, hub, scope="read")
    assert read_only.post("/api/v1/ai-systems/", registration(hub, organisation), format="json").status_code == 403
    outsider = APIClient()  # a session: personal keys are only for hub members
    outsider.force_login(verified_user(name="Not A Member"))
    response = outsider.post("/api/v1/ai-systems/", registration(hub, organisation), format="json")
    assert response.status_code == 403
    assert "Only active members" in response.json()["detail"]
    assert AISystem.objects.count() == 0


def test_the_owner_updates_a_system_and_others_cannot(owner_api, system, board, other_staff, other_hub):
    url = f"/api/v1/ai-systems/{system.pk}/"
    response = owner_api.patch(url, {"deployment_status": "deployed", "builds_on_gpai": True}, format="json")
    assert response.status_code == 200, response.json()
    system.refresh_from_db()
    assert (system.deployment_status, system.builds_on_gpai) == ("deployed", True)
    bad = owner_api.patch(url, {"input_modality": "smell", "name": "x" * 201}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"input_modality", "name"}
    # A board member sees the system but does not change it.
    board_api = api_as(board, system.hub)
    assert board_api.get(url).status_code == 200
    assert board_api.patch(url, {"deployment_status": "retired"}, format="json").status_code == 403
    assert api_as(other_staff, other_hub).patch(url, {"deployment_status": "retired"}, format="json").status_code == 404
    system.refresh_from_db()
    assert system.deployment_status == "deployed"


def test_hub_staff_edit_and_a_read_only_key_does_not(system, staff, member, hub):
    url = f"/api/v1/ai-systems/{system.pk}/"
    assert api_as(member, hub, scope="read").patch(url, {"name": "Renamed"}, format="json").status_code == 403
    assert api_as(staff, hub).patch(url, {"name": "Renamed"}, format="json").status_code == 200
    system.refresh_from_db()
    assert system.name == "Renamed"


def test_a_partner_key_reads_its_hubs_systems_and_changes_nothing(
    partner_api, system, foreign_system, item, hub, organisation
):
    listed = partner_api.get("/api/v1/ai-systems/").json()
    assert [s["name"] for s in listed["results"]] == ["Mammography triage"]
    assert partner_api.get(f"/api/v1/ai-systems/{system.pk}/").json()["can_edit"] is False
    assert partner_api.get(f"/api/v1/ai-systems/{foreign_system.pk}/").status_code == 404
    assert partner_api.get(f"/api/v1/checklist-items/?system={system.pk}").json()["count"] > 0
    assert partner_api.get(f"/api/v1/ai-systems/{system.pk}/assessments/").json()["count"] == 1
    refused = [
        partner_api.post("/api/v1/ai-systems/", registration(hub, organisation), format="json"),
        partner_api.patch(f"/api/v1/ai-systems/{system.pk}/", {"name": "Renamed"}, format="json"),
        partner_api.post(f"/api/v1/ai-systems/{system.pk}/assessments/", {}, format="json"),
        partner_api.patch(f"/api/v1/checklist-items/{item.pk}/", {"status": "done"}, format="json"),
        partner_api.post(f"/api/v1/checklist-items/{item.pk}/evidence/", {"label": "x", "url": "/"}, format="json"),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "signed-in users" in refused[0].json()["detail"]
    item.refresh_from_db()
    assert item.status == ItemStatus.TODO
    assert AISystem.objects.count() == 2


def test_system_list_filters(owner_api, hub, member, organisation, system, staff):
    classify(system, member, **HIGH_RISK)
    AISystemFactory(hub=hub, owner=member, organisation=organisation, name="Chatbot", sector="education")
    AISystemFactory(hub=hub, owner=staff, organisation=organisation, name="Staff tool", sector="public_services")

    def names(client, query=""):
        return [s["name"] for s in client.get(f"/api/v1/ai-systems/{query}").json()["results"]]

    assert names(owner_api) == ["Chatbot", "Mammography triage"]  # not the staff member's own system
    staff_api = api_as(staff, hub)
    assert names(staff_api) == ["Chatbot", "Mammography triage", "Staff tool"]
    assert names(staff_api, "?risk_class=high_risk_annex_iii") == ["Mammography triage"]
    assert names(staff_api, "?risk_class=unassessed") == ["Chatbot", "Staff tool"]
    assert names(staff_api, "?sector=education") == ["Chatbot"]
    assert names(staff_api, "?search=clinicians") == ["Chatbot", "Mammography triage", "Staff tool"]
    assert names(staff_api, "?search=chat") == ["Chatbot"]
    assert names(staff_api, "?hub=helsinki") == []
    assert names(staff_api, "?mine=true") == ["Staff tool"]
    assert staff_api.get("/api/v1/ai-systems/?risk_class=dangerous").status_code == 400


@pytest.mark.parametrize("extra", [0, 10])
def test_system_list_query_count_does_not_grow(hub, staff, organisation, django_assert_num_queries, extra):
    for i in range(2 + extra):
        AISystemFactory(hub=hub, owner=staff, organisation=organisation, name=f"System {i:02}")
    client = api_as(staff, hub)
    client.get("/api/v1/ai-systems/")  # the key's last use is recorded once a minute
    # key (with its user and hub), roles, board seats, count, page (hub, organisation, owner, progress joined)
    with django_assert_num_queries(5):
        body = client.get("/api/v1/ai-systems/").json()
    assert body["count"] == 2 + extra


def test_detail_shows_class_progress_decision_and_links(classified, member, board, hub):
    review = services.board_review_request(system=classified, acting_user=member)
    services.board_review_decide(review=review, acting_user=board, decision="approved", rationale="Documented.")
    project = ProjectFactory(hub=hub, pi=member)
    services.system_link(system=classified, acting_user=member, projects=[project])
    item = selectors.checklist_item_for_article(classified, "Art. 10")
    services.item_update(item=item, acting_user=member, status=ItemStatus.DONE)
    body = api_as(member, hub).get(f"/api/v1/ai-systems/{classified.pk}/").json()
    assert body["risk_class"] == RiskClass.HIGH_RISK_ANNEX_III
    assert body["annex_iii_point"] == "5d"
    assert body["gpai_systemic_risk"] is False
    assert body["is_gpai_model"] is False
    total = selectors.progress(classified).total
    assert body["progress"]["closed"] == 1
    assert body["progress"]["total"] == total > 1
    assert body["latest_decision"]["status"] == "approved"
    assert body["latest_decision"]["decided_by"]["name"] == "Bea Board"
    assert body["signed_off"] is True
    assert body["credit_gate"] is None
    assert body["latest_assessment"]["id"] == review.assessment_id
    assert body["projects"] == [{"id": project.pk, "title": project.title, "hub": {"slug": "lyon", "name": hub.name}}]


def test_linking_projects_and_pilots_checks_team_and_hub(owner_api, system, member, hub, other_hub):
    mine = ProjectFactory(hub=hub, pi=member)
    theirs = ProjectFactory(hub=hub)
    pilot = PilotFactory(hub=hub, lead=member)
    foreign_pilot = PilotFactory(hub=other_hub, lead=member)
    url = f"/api/v1/ai-systems/{system.pk}/links/"
    response = owner_api.patch(url, {"projects": [mine.pk], "pilots": [pilot.pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert [p["id"] for p in response.json()["projects"]] == [mine.pk]
    assert [p["id"] for p in response.json()["pilots"]] == [pilot.pk]
    refused = owner_api.patch(url, {"projects": [mine.pk, theirs.pk], "pilots": [foreign_pilot.pk]}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "projects": [f"No project you can link has the id {theirs.pk}."],
        "pilots": [f"No pilot of this hub you can link has the id {foreign_pilot.pk}."],
    }
    refused = owner_api.patch(url, {"pilots": [pilot.pk, foreign_pilot.pk, 999_999]}, format="json")
    assert refused.json() == {"pilots": [f"No pilot of this hub you can link has the id {foreign_pilot.pk}, 999999."]}
    refused = owner_api.patch(url, {"applications": [2**63]}, format="json")  # SQLite could not bind it (a 500)
    assert refused.status_code == 400
    assert list(refused.json()) == ["applications"]
    assert list(system.projects.all()) == [mine]
    assert list(system.pilots.all()) == [pilot]
    # Lists left out stay; an empty list unlinks.
    assert owner_api.patch(url, {"pilots": []}, format="json").status_code == 200
    assert (list(system.projects.all()), list(system.pilots.all())) == ([mine], [])


def test_a_link_someone_else_made_may_stay(system, member, staff, hub):
    """Staff link a project the owner is not on; the owner's later edit keeps it."""
    project = ProjectFactory(hub=hub)
    services.system_link(system=system, acting_user=staff, projects=[project])
    other = ProjectFactory(hub=hub, pi=member)
    response = api_as(member, hub).patch(
        f"/api/v1/ai-systems/{system.pk}/links/", {"projects": [project.pk, other.pk]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert set(system.projects.all()) == {project, other}


# --- Assessments ----------------------------------------------------------------------------------------


def test_starting_an_assessment_twice_returns_the_same_draft(owner_api, system, board, hub):
    url = f"/api/v1/ai-systems/{system.pk}/assessments/"
    first = owner_api.post(url, {}, format="json")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["status"] == "draft"
    assert body["questionnaire_version"] == "v1"
    assert body["outcome"]["final"] is False
    assert body["progress"]["complete"] is False
    assert "ai_system" in body["progress"]["unanswered"]
    again = owner_api.post(url, {}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    assert owner_api.post(url, {"questionnaire_version": "v9"}, format="json").status_code == 400
    assert api_as(board, hub).post(url, {}, format="json").status_code == 403  # the board does not classify
    assert Assessment.objects.count() == 1


def test_assessments_of_another_hub_or_with_a_read_only_key(system, foreign_system, member, hub):
    draft = services.assessment_start(system=system, acting_user=member)
    read_only = api_as(member, hub, scope="read")
    assert read_only.get(f"/api/v1/assessments/{draft.pk}/").status_code == 200
    assert (
        read_only.patch(f"/api/v1/assessments/{draft.pk}/answers/", {"ai_system": "yes"}, format="json").status_code
        == 403
    )
    assert read_only.post(f"/api/v1/assessments/{draft.pk}/submit/").status_code == 403
    foreign = services.assessment_start(system=foreign_system, acting_user=foreign_system.owner)
    client = api_as(member, hub)
    for url in (
        f"/api/v1/ai-systems/{foreign_system.pk}/assessments/",
        f"/api/v1/assessments/{foreign.pk}/",
        f"/api/v1/assessments/{foreign.pk}/questions/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/api/v1/assessments/{foreign.pk}/submit/").status_code == 404
    draft.refresh_from_db()
    assert draft.answers == {}


def test_the_questions_follow_the_answers_like_the_wizard(owner_api, system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    questions = owner_api.get(f"/api/v1/assessments/{draft.pk}/questions/").json()
    assert [q["key"] for q in questions["to_answer"]][:2] == ["ai_system", "eu_nexus"]
    assert questions["sections"][0]["state"] == "current"
    assert questions["sections"][1]["state"] == "later"
    assert questions["sections"][1]["questions"] == []
    scope = {k: v for k, v in answers().items() if k in {q["key"] for q in questions["to_answer"]}}
    response = owner_api.patch(f"/api/v1/assessments/{draft.pk}/answers/", scope, format="json")
    assert response.status_code == 200, response.json()
    after = response.json()
    assert after["sections"][0]["state"] == "done"
    assert after["sections"][1]["key"] == "prohibited"
    assert after["sections"][1]["state"] == "current"
    assert "art5_a" in [q["key"] for q in after["to_answer"]]
    shown = after["sections"][0]["questions"][0]
    assert (shown["key"], shown["answer"], shown["answer_display"], shown["missing"]) == (
        "ai_system",
        "yes",
        "Yes",
        False,
    )
    assert after["answered"] == len(scope)


def test_bad_answers_are_named_by_question_key_and_nothing_is_saved(owner_api, system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    url = f"/api/v1/assessments/{draft.pk}/answers/"
    response = owner_api.patch(
        url,
        {"ai_system": "yes", "annex_iii_5": "5z", "gpai_compute": "lots", "colour": "red"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"annex_iii_5", "gpai_compute", "colour"}
    assert "Pick one of" in errors["annex_iii_5"][0]
    assert "Enter a number" in errors["gpai_compute"][0]
    assert errors["colour"] == ["No such question in this questionnaire."]
    wrapped = owner_api.patch(url, {"answers": {"ai_system": "yes"}}, format="json")
    assert wrapped.json() == {"answers": ["No such question in this questionnaire."]}
    not_an_object = owner_api.patch(url, [{"ai_system": "yes"}], format="json")
    assert not_an_object.json() == {"non_field_errors": ["Send an object: question key -> answer."]}
    assert owner_api.patch(url, {}, format="json").status_code == 200  # nothing to save
    draft.refresh_from_db()
    assert draft.answers == {}


def test_submitting_an_incomplete_draft_is_409_with_the_questions_left(owner_api, system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    services.assessment_answer(assessment=draft, acting_user=member, answers={"ai_system": "yes"})
    response = owner_api.post(f"/api/v1/assessments/{draft.pk}/submit/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "incomplete"
    assert body["unanswered"][0] == "eu_nexus"
    assert "question(s) still need an answer" in body["detail"]
    draft.refresh_from_db()
    assert draft.status == AssessmentStatus.DRAFT
    system.refresh_from_db()
    assert system.risk_class == RiskClass.UNASSESSED


def test_submitting_fixes_the_outcome_and_a_second_submit_is_409(owner_api, system, member):
    url = f"/api/v1/ai-systems/{system.pk}/assessments/"
    pk = owner_api.post(url, {}, format="json").json()["id"]
    full = answers(**HIGH_RISK)
    # Answer the way the wizard does: what is asked, until nothing is left.
    for _ in range(20):
        todo = owner_api.get(f"/api/v1/assessments/{pk}/questions/").json()["to_answer"]
        if not todo:
            break
        batch = {q["key"]: full[q["key"]] for q in todo}
        saved = owner_api.patch(f"/api/v1/assessments/{pk}/answers/", batch, format="json")
        assert saved.status_code == 200, saved.json()
    response = owner_api.post(f"/api/v1/assessments/{pk}/submit/")
    assert response.status_code == 200, response.json()
    outcome = response.json()["outcome"]
    assert outcome["final"] is True
    assert (outcome["risk_class"], outcome["annex_iii_point"], outcome["annex_iii_point_label"]) == (
        "high_risk_annex_iii",
        "5d",
        "5(d)",
    )
    assert outcome["questionnaire_version"] == "v1"
    assert any(r["article"].startswith("Art. 6(2)") for r in outcome["reasoning"])
    assert "2027-12-02" in [d["date"] for d in outcome["applicable_dates"]]
    assert outcome["gpai_model"] is False
    assert outcome["gpai_systemic_risk"] is False
    assert "not legal advice" in outcome["notice"]
    assert response.json()["progress"]["complete"] is True
    system.refresh_from_db()
    assert system.risk_class == RiskClass.HIGH_RISK_ANNEX_III
    assert ChecklistItem.objects.filter(system=system).exists()
    again = owner_api.post(f"/api/v1/assessments/{pk}/submit/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    late = owner_api.patch(f"/api/v1/assessments/{pk}/answers/", {"ai_system": "no"}, format="json")
    assert late.status_code == 409
    assert Assessment.objects.get(pk=pk).answers["ai_system"] == "yes"
    assert owner_api.get(f"/api/v1/assessments/{pk}/").json()["outcome"] == outcome


@pytest.mark.parametrize("extra", [0, 8])
def test_assessment_list_query_count_does_not_grow(system, member, hub, django_assert_num_queries, extra):
    for _ in range(1 + extra):
        classify(system, member, **MINIMAL)
    client = api_as(member, hub)
    client.get("/api/v1/ai-systems/")
    # key, roles, board seats, the system, count, page (system, hub, started and submitted by joined)
    with django_assert_num_queries(6):
        body = client.get(f"/api/v1/ai-systems/{system.pk}/assessments/").json()
    assert body["count"] == 1 + extra
    assert body["results"][0]["outcome"]["risk_class"] == "minimal"


# --- Checklist items and evidence ------------------------------------------------------------------------


def test_checklist_items_list_and_filters(owner_api, classified, item, member, foreign_system):
    classify(foreign_system, foreign_system.owner, **HIGH_RISK)
    services.item_update(item=item, acting_user=member, status=ItemStatus.DONE)
    everything = owner_api.get("/api/v1/checklist-items/").json()
    assert everything["count"] == selectors.progress(classified).total  # none of Helsinki's
    done = owner_api.get(f"/api/v1/checklist-items/?system={classified.pk}&status=done").json()
    assert [i["id"] for i in done["results"]] == [item.pk]
    assert done["results"][0]["completed_at"] is not None
    tests = owner_api.get("/api/v1/checklist-items/?evidence_type=TEST").json()["results"]
    assert tests
    assert all("TEST" in i["evidence_types"] for i in tests)
    assert len(tests) < everything["count"]
    assert owner_api.get(f"/api/v1/checklist-items/?system={foreign_system.pk}").json()["count"] == 0
    assert owner_api.get("/api/v1/checklist-items/?obsolete=true").json()["count"] == 0
    assert owner_api.get("/api/v1/checklist-items/?status=finished").status_code == 400


@pytest.mark.parametrize("size", ["one system", "three systems"])
def test_checklist_list_query_count_does_not_grow(hub, member, organisation, django_assert_num_queries, size):
    for i in range(1 if size == "one system" else 3):
        system = AISystemFactory(hub=hub, owner=member, organisation=organisation, name=f"System {i}")
        classify(system, member, **HIGH_RISK)
    client = api_as(member, hub)
    client.get("/api/v1/ai-systems/")
    # key, roles, board seats, count, page (system, hub, owner, evidence count joined)
    with django_assert_num_queries(5):
        body = client.get("/api/v1/checklist-items/?page_size=100").json()
    assert body["count"] == ChecklistItem.objects.filter(obsolete_at__isnull=True).count()


def test_updating_an_item_status_owner_and_justification(owner_api, item, member, board, hub):
    url = f"/api/v1/checklist-items/{item.pk}/"
    response = owner_api.patch(url, {"status": "in_progress", "owner": board.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["owner"]["name"] == "Bea Board"
    refused = owner_api.patch(url, {"status": "not_applicable"}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"justification": ["Say why this obligation does not apply to the system."]}
    stranger = verified_user(name="Someone Else")
    assert "owner" in owner_api.patch(url, {"owner": stranger.pk}, format="json").json()
    item.refresh_from_db()
    assert (item.status, item.owner) == (ItemStatus.IN_PROGRESS, board)
    justified = owner_api.patch(
        url, {"status": "not_applicable", "justification": "Only synthetic data.", "owner": None}, format="json"
    )
    assert justified.status_code == 200
    assert (justified.json()["status"], justified.json()["owner"]) == ("not_applicable", None)
    assert api_as(member, hub, scope="read").patch(url, {"status": "todo"}, format="json").status_code == 403
    assert api_as(board, hub).patch(url, {"status": "todo"}, format="json").status_code == 403
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_APPLICABLE


def test_items_of_another_hub_are_404_and_retired_items_are_read_only(
    owner_api, classified, item, member, foreign_system
):
    classify(foreign_system, foreign_system.owner, **HIGH_RISK)
    foreign_item = ChecklistItem.objects.filter(system=foreign_system).first()
    assert owner_api.get(f"/api/v1/checklist-items/{foreign_item.pk}/").status_code == 404
    assert (
        owner_api.patch(f"/api/v1/checklist-items/{foreign_item.pk}/", {"status": "done"}, format="json").status_code
        == 404
    )
    classify(classified, member, **MINIMAL)  # re-classified: the Art. 10 item no longer applies
    response = owner_api.patch(f"/api/v1/checklist-items/{item.pk}/", {"status": "done"}, format="json")
    assert response.status_code == 409
    assert "no longer applies" in response.json()["detail"]
    assert owner_api.get(f"/api/v1/checklist-items/{item.pk}/").json()["obsolete"] is True
    retired = owner_api.get(f"/api/v1/checklist-items/?system={classified.pk}&obsolete=true").json()
    assert item.pk in [i["id"] for i in retired["results"]]


def test_evidence_links_and_files_are_added_and_removed(owner_api, item, member):
    url = f"/api/v1/checklist-items/{item.pk}/evidence/"
    link = owner_api.post(url, {"label": "DPIA v2", "url": "https://dms.example.org/dpia-v2"}, format="json")
    assert link.status_code == 201, link.json()
    assert (link.json()["kind"], link.json()["evidence_type"]) == ("link", item.evidence_types[0])
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_PROGRESS
    upload = owner_api.post(
        url + "files/",
        {"file": SimpleUploadedFile("report.pdf", PDF), "evidence_type": "TEST"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    assert (upload.json()["file_name"], upload.json()["label"], upload.json()["size_bytes"]) == (
        "report.pdf",
        "report.pdf",
        len(PDF),
    )
    listed = owner_api.get(url).json()
    assert [e["label"] for e in listed["results"]] == ["report.pdf", "DPIA v2"]
    assert owner_api.get(f"/api/v1/checklist-items/{item.pk}/").json()["evidence_count"] == 2
    removed = owner_api.delete(f"/api/v1/evidence/{link.json()['id']}/")
    assert removed.status_code == 204
    assert list(Evidence.objects.values_list("label", flat=True)) == ["report.pdf"]
    assert audit_trail_for(item).filter(action="evidence.removed").exists()


def test_bad_evidence_names_the_field_and_stores_nothing(owner_api, item):
    url = f"/api/v1/checklist-items/{item.pk}/evidence/"
    no_label = owner_api.post(url, {"url": "https://example.org/report"}, format="json")
    assert no_label.status_code == 400
    assert "label" in no_label.json()
    bad_url = owner_api.post(url, {"label": "Report", "url": "javascript:alert(1)"}, format="json")
    assert "url" in bad_url.json()
    nothing = owner_api.post(url, {"label": "Report"}, format="json")
    assert nothing.json() == {"url": ["This field is required."]}
    no_file = owner_api.post(url + "files/", {"label": "Report"}, format="multipart")
    assert no_file.json() == {"file": ["No file was submitted."]}
    as_json = owner_api.post(url + "files/", {"label": "Report"}, format="json")
    assert as_json.status_code == 415  # a file comes as multipart
    bad_type = owner_api.post(url, {"label": "R", "url": "/x", "evidence_type": "VIDEO"}, format="json")
    assert "evidence_type" in bad_type.json()
    fake_pdf = owner_api.post(url + "files/", {"file": SimpleUploadedFile("r.pdf", b"MZ\x90\x00")}, format="multipart")
    assert fake_pdf.status_code == 400
    assert fake_pdf.json() == {"file": ["'r.pdf' does not look like a PDF file."]}
    script = owner_api.post(url + "files/", {"file": SimpleUploadedFile("run.exe", b"MZ")}, format="multipart")
    assert "not an accepted type" in script.json()["file"][0]
    assert Evidence.objects.count() == 0
    item.refresh_from_db()
    assert item.status == ItemStatus.TODO


def test_evidence_of_another_hub_is_404(owner_api, item, foreign_system, member):
    classify(foreign_system, foreign_system.owner, **HIGH_RISK)
    foreign_item = ChecklistItem.objects.filter(system=foreign_system).first()
    evidence = services.evidence_link_add(
        item=foreign_item, label="Theirs", url="https://example.org/", acting_user=foreign_system.owner
    )
    assert owner_api.get(f"/api/v1/evidence/{evidence.pk}/").status_code == 404
    assert owner_api.delete(f"/api/v1/evidence/{evidence.pk}/").status_code == 404
    assert owner_api.get(f"/api/v1/checklist-items/{foreign_item.pk}/evidence/").status_code == 404
    assert (
        owner_api.post(
            f"/api/v1/checklist-items/{foreign_item.pk}/evidence/", {"label": "x", "url": "/"}, format="json"
        ).status_code
        == 404
    )
    assert Evidence.objects.count() == 1


@pytest.mark.parametrize("links", [1, 9])
def test_evidence_list_query_count_does_not_grow(item, member, hub, django_assert_num_queries, links):
    for i in range(links):
        services.evidence_link_add(item=item, label=f"Link {i}", url=f"https://example.org/{i}", acting_user=member)
    client = api_as(member, hub)
    client.get("/api/v1/ai-systems/")
    # key, roles, board seats, the item, count, page (added by joined)
    with django_assert_num_queries(6):
        body = client.get(f"/api/v1/checklist-items/{item.pk}/evidence/").json()
    assert body["count"] == links


# --- Ethics board --------------------------------------------------------------------------------------------


@pytest.fixture
def staff_api(staff, hub):
    return api_as(staff, hub)


def test_staff_name_board_members_by_email_or_id(staff_api, hub, member, board):
    response = staff_api.post(
        "/api/v1/board-members/", {"hub": "lyon", "email": member.email.upper(), "title": "DPO"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["user"]["id"], response.json()["title"]) == (member.pk, "DPO")
    again = staff_api.post("/api/v1/board-members/", {"hub": "lyon", "user": member.pk, "title": "DPO"}, format="json")
    assert again.status_code == 200
    listed = staff_api.get("/api/v1/board-members/").json()
    assert sorted(m["user"]["name"] for m in listed["results"]) == ["Bea Board", "Marie Member"]
    outsider = verified_user(name="Not A Member")
    refused = staff_api.post("/api/v1/board-members/", {"hub": "lyon", "user": outsider.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"user": [f"{outsider} is not an active member of {hub}."]}
    unknown = staff_api.post("/api/v1/board-members/", {"hub": "lyon", "email": "nobody@example.org"}, format="json")
    assert unknown.json() == {"email": ["No one has an account with this e-mail."]}
    both = staff_api.post(
        "/api/v1/board-members/", {"hub": "lyon", "email": member.email, "user": member.pk}, format="json"
    )
    assert "user" in both.json()
    assert BoardMember.objects.filter(active=True).count() == 2


def test_only_staff_with_mfa_of_the_hub_manage_its_board(hub, other_hub, member, board, other_staff):
    seat = BoardMember.objects.get(user=board)
    no_mfa = verified_user(name="Stan No-MFA")
    MembershipFactory(user=no_mfa, hub=hub, role=Role.STAFF)
    for client in (api_as(member, hub), api_as(no_mfa, hub)):
        assert client.get("/api/v1/board-members/").status_code == 403
        assert (
            client.post("/api/v1/board-members/", {"hub": "lyon", "user": member.pk}, format="json").status_code == 403
        )
        assert client.delete(f"/api/v1/board-members/{seat.pk}/").status_code == 403
    foreign = api_as(other_staff, other_hub)
    assert foreign.get("/api/v1/board-members/").json()["count"] == 0
    assert foreign.get(f"/api/v1/board-members/{seat.pk}/").status_code == 404
    assert foreign.delete(f"/api/v1/board-members/{seat.pk}/").status_code == 404
    refused = foreign.post("/api/v1/board-members/", {"hub": "lyon", "user": member.pk}, format="json")
    assert refused.status_code == 403
    seat.refresh_from_db()
    assert seat.active is True
    assert not BoardMember.objects.filter(user=member).exists()


def test_staff_take_a_member_off_the_board(staff_api, staff, hub, board):
    seat = BoardMember.objects.get(user=board)
    assert api_as(staff, hub, scope="read").delete(f"/api/v1/board-members/{seat.pk}/").status_code == 403
    assert staff_api.delete(f"/api/v1/board-members/{seat.pk}/").status_code == 204
    seat.refresh_from_db()
    assert seat.active is False
    assert staff_api.get("/api/v1/board-members/").json()["count"] == 0
    assert staff_api.get("/api/v1/board-members/?active=false").json()["results"][0]["id"] == seat.pk


@pytest.mark.parametrize("extra", [0, 6])
def test_board_member_list_query_count_does_not_grow(staff, hub, django_assert_num_queries, extra):
    for i in range(2 + extra):
        user = verified_user(name=f"Board {i}")
        MembershipFactory(user=user, hub=hub)
        BoardMemberFactory(hub=hub, user=user)
    client = api_as(staff, hub)
    client.get("/api/v1/ai-systems/")
    # key, roles, authenticators (MFA), count, page (hub and user joined)
    with django_assert_num_queries(5):
        body = client.get("/api/v1/board-members/").json()
    assert body["count"] == 2 + extra


def test_a_review_is_requested_decided_and_listed_for_the_board(owner_api, classified, member, board, hub):
    board_api = api_as(board, hub)
    requested = owner_api.post(f"/api/v1/ai-systems/{classified.pk}/board-review/", {"note": "Please"})
    assert requested.status_code == 201, requested.json()
    review = requested.json()
    assert (review["status"], review["request_note"], review["can_decide"]) == ("pending", "Please", False)
    again = owner_api.post(f"/api/v1/ai-systems/{classified.pk}/board-review/", {}, format="json")
    assert again.status_code == 409
    assert "already waiting" in again.json()["detail"]
    waiting = board_api.get("/api/v1/board-reviews/?awaiting_me=true").json()
    assert [r["id"] for r in waiting["results"]] == [review["id"]]
    assert waiting["results"][0]["can_decide"] is True
    assert owner_api.get("/api/v1/board-reviews/?awaiting_me=true").json()["count"] == 0
    url = f"/api/v1/board-reviews/{review['id']}/decide/"
    missing = board_api.post(url, {"decision": "approved_with_conditions"}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()) == {"rationale", "conditions"}
    assert board_api.post(url, {"decision": "maybe", "rationale": "x"}, format="json").json().keys() == {"decision"}
    assert BoardReview.objects.get().status == ReviewStatus.PENDING
    decided = board_api.post(
        url,
        {"decision": "approved_with_conditions", "rationale": "Documented.", "conditions": "Re-run fairness."},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert (decided.json()["status"], decided.json()["decided_by"]["name"]) == ("approved_with_conditions", "Bea Board")
    assert board_api.post(url, {"decision": "rejected", "rationale": "Changed my mind."}).status_code == 409
    assert owner_api.post(f"/api/v1/board-reviews/{review['id']}/withdraw/").status_code == 409
    assert board_api.get("/api/v1/board-reviews/?awaiting_me=true").json()["count"] == 0
    assert owner_api.get(f"/api/v1/ai-systems/{classified.pk}/").json()["signed_off"] is True


def test_reviews_are_refused_out_of_turn(owner_api, system, classified, member, board, hub, foreign_system):
    BoardMemberFactory(hub=hub, user=member)  # the owner sits on the board too
    review = services.board_review_request(system=classified, acting_user=member)
    url = f"/api/v1/board-reviews/{review.pk}/decide/"
    own = owner_api.post(url, {"decision": "approved", "rationale": "Mine is fine."}, format="json")
    assert own.status_code == 403
    assert "another board member" in own.json()["detail"]
    assert api_as(board, hub, scope="read").post(url, {"decision": "approved", "rationale": "OK"}).status_code == 403
    outsider = verified_user(name="Outsider")
    MembershipFactory(user=outsider, hub=hub)
    assert api_as(outsider, hub).post(url, {"decision": "approved", "rationale": "OK"}).status_code == 404
    assert (
        api_as(foreign_system.owner, foreign_system.hub).get(f"/api/v1/board-reviews/{review.pk}/").status_code == 404
    )
    unclassified = api_as(foreign_system.owner, foreign_system.hub).post(
        f"/api/v1/ai-systems/{foreign_system.pk}/board-review/", {}, format="json"
    )
    assert unclassified.status_code == 409
    assert "Classify the system" in unclassified.json()["detail"]
    assert owner_api.post(f"/api/v1/ai-systems/{foreign_system.pk}/board-review/", {}).status_code == 404
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING
    withdrawn = owner_api.post(f"/api/v1/board-reviews/{review.pk}/withdraw/")
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")


@pytest.mark.parametrize("extra", [0, 6])
def test_board_review_list_query_count_does_not_grow(
    hub, member, board, organisation, django_assert_num_queries, extra
):
    for i in range(1 + extra):
        system = AISystemFactory(hub=hub, owner=member, organisation=organisation, name=f"System {i}")
        classify(system, member, **HIGH_RISK)
        services.board_review_request(system=system, acting_user=member)
    client = api_as(board, hub)
    client.get("/api/v1/ai-systems/")
    # key, roles, board seats, reviews awaiting the caller (can_decide), count, page (system, hub,
    # assessment, requested/decided by joined)
    with django_assert_num_queries(6):
        body = client.get("/api/v1/board-reviews/?awaiting_me=true").json()
    assert body["count"] == 1 + extra
    assert all(r["can_decide"] for r in body["results"])


def test_every_compliance_operation_is_in_the_schema(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    expected = {
        "/api/v1/ai-systems/": {"get", "post"},
        "/api/v1/ai-systems/{id}/": {"get", "patch"},
        "/api/v1/ai-systems/{id}/links/": {"patch"},
        "/api/v1/ai-systems/{id}/assessments/": {"get", "post"},
        "/api/v1/ai-systems/{id}/board-review/": {"post"},
        "/api/v1/assessments/{id}/": {"get"},
        "/api/v1/assessments/{id}/questions/": {"get"},
        "/api/v1/assessments/{id}/answers/": {"patch"},
        "/api/v1/assessments/{id}/submit/": {"post"},
        "/api/v1/checklist-items/": {"get"},
        "/api/v1/checklist-items/{id}/": {"get", "patch"},
        "/api/v1/checklist-items/{id}/evidence/": {"get", "post"},
        "/api/v1/checklist-items/{id}/evidence/files/": {"post"},
        "/api/v1/evidence/{id}/": {"get", "delete"},
        "/api/v1/board-members/": {"get", "post"},
        "/api/v1/board-members/{id}/": {"get", "delete"},
        "/api/v1/board-reviews/": {"get"},
        "/api/v1/board-reviews/{id}/": {"get"},
        "/api/v1/board-reviews/{id}/decide/": {"post"},
        "/api/v1/board-reviews/{id}/withdraw/": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) - {"parameters"} == methods, path
    assert set(paths["/api/v1/assessments/{id}/submit/"]["post"]["responses"]) >= {"200", "403", "404", "409"}


def test_staff_of_a_hub_need_mfa_only_for_board_management(hub, system):
    """MFA is asked for staff operations, not for reading systems as staff."""
    user = verified_user(name="Staff Without MFA")
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    client = api_as(user, hub)
    assert client.get(f"/api/v1/ai-systems/{system.pk}/").status_code == 200
    assert client.get("/api/v1/board-members/").status_code == 403
    enable_mfa(user)
    assert client.get("/api/v1/board-members/").status_code == 200
