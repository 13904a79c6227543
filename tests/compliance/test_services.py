"""Registering, classifying, working the checklist and the ethics board, through the services."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from compliance import selectors, services
from compliance.models import (
    AISystem,
    Assessment,
    BoardReview,
    ChecklistItem,
    Evidence,
    ItemStatus,
    ReviewStatus,
)
from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from tests.factories import UserFactory

from .factories import CHATBOT, HIGH_RISK, answers, classify

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def register(hub, user, organisation, **extra):
    fields = {
        "name": "Crop water-need predictor",
        "organisation": organisation,
        "intended_purpose": "Advises farmers how much to irrigate.",
        "role": "provider",
        "sector": "agriculture",
        "input_modality": "time_series",
        "output_modality": "tabular",
    } | extra
    return services.system_create(hub=hub, acting_user=user, **fields)


# --- Registering ------------------------------------------------------------------------------------


def test_a_hub_member_registers_a_system_and_owns_it(hub, member, organisation):
    system = register(hub, member, organisation, uses_health_data=True)
    assert system.owner == member
    assert system.uses_personal_data  # health data is personal data
    assert system.risk_class == ""
    assert audit_trail_for(system).get().action == "ai_system.registered"


def test_someone_outside_the_hub_cannot_register_there(hub, organisation):
    with pytest.raises(PermissionDenied):
        register(hub, UserFactory(), organisation)
    assert not AISystem.objects.exists()


def test_a_second_system_with_the_same_name_is_refused_naming_the_field(hub, member, organisation):
    register(hub, member, organisation)
    with pytest.raises(ValidationError) as exc:
        register(hub, member, organisation, name="crop WATER-need predictor")
    assert "name" in exc.value.message_dict
    assert AISystem.objects.count() == 1


def test_the_database_refuses_health_data_without_personal_data(system):
    with pytest.raises(IntegrityError), transaction.atomic():
        AISystem.objects.filter(pk=system.pk).update(uses_health_data=True, uses_personal_data=False)


# --- Classifying ------------------------------------------------------------------------------------


def test_starting_twice_gives_the_same_draft(system, member):
    first = services.assessment_start(system=system, acting_user=member)
    assert services.assessment_start(system=system, acting_user=member) == first
    assert first.questionnaire_version == "v1"


def test_a_bad_answer_names_the_question_and_saves_nothing(system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    services.assessment_answer(assessment=draft, acting_user=member, answers={"ai_system": "yes"})
    with pytest.raises(ValidationError) as exc:
        services.assessment_answer(
            assessment=draft, acting_user=member, answers={"eu_nexus": "yes", "annex_iii_1": "banana"}
        )
    assert set(exc.value.message_dict) == {"annex_iii_1"}
    draft.refresh_from_db()
    assert draft.answers == {"ai_system": "yes"}


def test_an_incomplete_assessment_cannot_be_submitted(system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    services.assessment_answer(assessment=draft, acting_user=member, answers={"ai_system": "yes"})
    with pytest.raises(ValidationError, match="still need an answer") as exc:
        services.assessment_submit(assessment=draft, acting_user=member)
    assert "eu_nexus" in exc.value.message_dict
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not ChecklistItem.objects.exists()


def test_submitting_classifies_the_system_and_generates_its_checklist(system, member):
    assessment = classify(system, member, **HIGH_RISK)
    system.refresh_from_db()
    assert (system.risk_class, system.annex_iii_point) == ("high_risk_annex_iii", "5d")
    assert assessment.reasoning
    assert all(len(r) == 2 for r in assessment.reasoning)
    assert assessment.questionnaire_version == "v1"
    items = list(selectors.checklist(system))
    assert {"Art. 9", "Art. 10", "Art. 14", "Art. 72"} <= {i.article for i in items}
    assert all(i.due_on.isoformat() == "2027-12-02" for i in items if i.article == "Art. 9")
    assert selectors.progress(system).closed == 0
    with pytest.raises(InvalidTransition):
        services.assessment_submit(assessment=assessment, acting_user=member)
    # The owner is told to ask the board.
    assert member.notifications.filter(kind="compliance.signoff_needed").exists()


def test_a_critical_infrastructure_point_is_stored_whole(system, member):
    """Point 2 names the infrastructure ("2-electricity"): longer than the other points' "5d"."""
    classify(
        system,
        member,
        annex_iii_2="2-electricity",
        annex_iii_2_efficiency_only="yes",
        annex_iii_2_failure_endangers="yes",
    )
    system.refresh_from_db()
    assert (system.risk_class, system.annex_iii_point) == ("high_risk_annex_iii", "2-electricity")
    assert selectors.latest_assessment(system).annex_iii_point == "2-electricity"


def test_reclassifying_keeps_the_evidence_of_items_that_still_apply(system, member):
    classify(system, member, **HIGH_RISK)
    art10 = selectors.checklist_item_for_article(system, "Art. 10")
    literacy = selectors.checklist_item_for_article(system, "Art. 4")
    services.evidence_link_add(item=art10, label="Datasheet", url="https://example.org/ds", acting_user=member)
    services.evidence_link_add(item=literacy, label="Training plan", url="https://example.org/t", acting_user=member)
    services.item_update(item=literacy, acting_user=member, status=ItemStatus.DONE)

    classify(system, member, **CHATBOT)  # now only transparency duties
    system.refresh_from_db()
    assert system.risk_class == "transparency"
    assert selectors.checklist_item_for_article(system, "Art. 10") is None
    art10.refresh_from_db()
    assert art10.obsolete_at is not None
    assert art10.evidence.count() == 1
    literacy.refresh_from_db()
    assert literacy.obsolete_at is None
    assert literacy.status == ItemStatus.DONE
    assert literacy.evidence.get().label == "Training plan"
    assert {i.article for i in selectors.checklist(system)} >= {"Art. 50(1)", "Art. 50(2)"}

    classify(system, member, **HIGH_RISK)  # back to high-risk: the Art. 10 item returns with its evidence
    item = selectors.checklist_item_for_article(system, "Art. 10")
    assert item.pk == art10.pk
    assert item.evidence.get().label == "Datasheet"


def test_personal_data_adds_the_gdpr_part(system, member):
    services.system_update(system=system, acting_user=member, uses_health_data=True)
    classify(system, member)
    sections = {i.section for i in selectors.checklist(system)}
    assert sections == {"ai_act", "gdpr"}
    assert selectors.checklist_item_for_article(system, "GDPR Art. 35") is not None


# --- Checklist items --------------------------------------------------------------------------------


@pytest.fixture
def item(system, member):
    classify(system, member, **HIGH_RISK)
    return selectors.checklist_item_for_article(system, "Art. 10")


def test_not_applicable_needs_a_justification(item, member):
    with pytest.raises(ValidationError) as exc:
        services.item_update(item=item, acting_user=member, status=ItemStatus.NOT_APPLICABLE)
    assert "justification" in exc.value.message_dict
    item.refresh_from_db()
    assert item.status == ItemStatus.TODO
    services.item_update(item=item, acting_user=member, status="not_applicable", justification="No training data.")
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_APPLICABLE


def test_the_database_refuses_not_applicable_without_justification(item):
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistItem.objects.filter(pk=item.pk).update(status=ItemStatus.NOT_APPLICABLE, justification="")


def test_done_records_when_and_progress_counts_it(item, member, system):
    services.item_update(item=item, acting_user=member, status=ItemStatus.DONE)
    item.refresh_from_db()
    assert item.completed_at is not None
    assert selectors.progress(system).closed == 1


def test_someone_else_cannot_work_the_checklist(item):
    with pytest.raises(PermissionDenied):
        services.item_update(item=item, acting_user=UserFactory(), status=ItemStatus.DONE)


def test_a_pdf_is_attached_with_its_hash(item, member):
    evidence = services.evidence_file_add(
        item=item, acting_user=member, uploaded=SimpleUploadedFile("datasheet.pdf", PDF, "application/pdf")
    )
    assert evidence.size_bytes == len(PDF)
    assert len(evidence.sha256) == 64
    assert evidence.label == "datasheet.pdf"
    assert evidence.evidence_type == "DOC"
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_PROGRESS  # evidence starts the work


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("malware.exe", b"MZ\x90\x00", "not an accepted type"),
        ("fake.pdf", b"<html>not a pdf</html>", "does not look like a PDF"),
        ("empty.txt", b"", "is empty"),
        ("binary.txt", b"\x00\x01\x02\x03binary", "contains binary data"),
    ],
)
def test_bad_files_are_refused_naming_the_problem_and_nothing_is_stored(item, member, name, content, message, settings):
    with pytest.raises(ValidationError, match=message) as exc:
        services.evidence_file_add(item=item, acting_user=member, uploaded=SimpleUploadedFile(name, content))
    assert "file" in exc.value.message_dict
    assert not Evidence.objects.exists()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_file_over_the_size_limit_is_refused(item, member, monkeypatch):
    monkeypatch.setattr(services, "MAX_EVIDENCE_BYTES", 1024)
    with pytest.raises(ValidationError, match="the limit is"):
        services.evidence_file_add(
            item=item, acting_user=member, uploaded=SimpleUploadedFile("big.pdf", PDF + b" " * 2000)
        )
    assert not Evidence.objects.exists()


def test_a_link_needs_a_label_and_a_web_address(item, member):
    with pytest.raises(ValidationError) as exc:
        services.evidence_link_add(item=item, label="", url="ftp://x", acting_user=member)
    assert set(exc.value.message_dict) == {"label", "url"}
    assert not Evidence.objects.exists()
    services.evidence_link_add(item=item, label="Fairness run 3", url="/assurance/fairness/3/", acting_user=None)
    assert item.evidence.get().url == "/assurance/fairness/3/"


def test_corrective_action_opens_once_per_source_and_reopens_when_closed(system, member):
    classify(system, member, **HIGH_RISK)
    first = services.corrective_action_open(system=system, title="Drift on age", detail="PSI 0.4", source="drift:7")
    again = services.corrective_action_open(system=system, title="Drift on age", detail="PSI 0.4", source="drift:7")
    assert first.pk == again.pk
    assert first.article == "Art. 20, Art. 72"
    assert ChecklistItem.objects.filter(system=system, section="corrective").count() == 1
    assert member.notifications.filter(kind="compliance.corrective_action").count() == 1
    services.item_update(item=first, acting_user=member, status=ItemStatus.DONE)
    reopened = services.corrective_action_open(system=system, title="Drift on age", detail="PSI 0.5", source="drift:7")
    assert reopened.status == ItemStatus.TODO
    # Re-classifying never retires a corrective action.
    classify(system, member, **CHATBOT)
    reopened.refresh_from_db()
    assert reopened.obsolete_at is None


def test_checklist_item_for_article_finds_sub_paragraphs(system, member):
    classify(system, member, **HIGH_RISK)
    assert selectors.checklist_item_for_article(system, "Art. 10").key == "art10_data"
    assert selectors.checklist_item_for_article(system, "Art. 16").key == "art16_identity"  # "Art. 16(b)"
    assert selectors.checklist_item_for_article(system, "Art. 99") is None


# --- Ethics board -------------------------------------------------------------------------------


def test_the_board_approves_with_conditions_and_the_audit_trail_says_so(system, member, board):
    assessment = classify(system, member, **HIGH_RISK)
    review = services.board_review_request(system=system, acting_user=member, note="Please review before the pilot.")
    assert board.notifications.filter(kind="compliance.review_requested").exists()
    with pytest.raises(ValidationError) as exc:
        services.board_review_decide(
            review=review, acting_user=board, decision="approved_with_conditions", rationale="Fine", conditions=""
        )
    assert "conditions" in exc.value.message_dict
    services.board_review_decide(
        review=review,
        acting_user=board,
        decision="approved_with_conditions",
        rationale="Oversight design is sound.",
        conditions="Re-run the fairness check every quarter.",
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED_WITH_CONDITIONS
    assert review.assessment == assessment
    assert selectors.valid_signoff(system) == review
    event = audit_trail_for(review).get(action="board_review.decided")
    assert event.actor == board
    assert event.after["rationale"] == "Oversight design is sound."
    with pytest.raises(InvalidTransition):
        services.board_review_decide(review=review, acting_user=board, decision="rejected", rationale="Changed mind")


def test_the_owner_cannot_decide_on_their_own_system(system, member, board, hub):
    from tests.compliance.factories import BoardMemberFactory

    BoardMemberFactory(hub=hub, user=member)
    classify(system, member, **HIGH_RISK)
    review = services.board_review_request(system=system, acting_user=member)
    with pytest.raises(PermissionDenied, match="another board member"):
        services.board_review_decide(review=review, acting_user=member, decision="approved", rationale="Mine")


def test_a_review_needs_a_classification_and_a_board(system, member, hub):
    with pytest.raises(InvalidTransition, match="Classify"):
        services.board_review_request(system=system, acting_user=member)
    classify(system, member, **HIGH_RISK)
    with pytest.raises(InvalidTransition, match="no ethics board"):
        services.board_review_request(system=system, acting_user=member)
    assert not BoardReview.objects.exists()


def test_only_one_review_waits_at_a_time(system, member, board):
    classify(system, member, **HIGH_RISK)
    services.board_review_request(system=system, acting_user=member)
    with pytest.raises(InvalidTransition, match="already waiting"):
        services.board_review_request(system=system, acting_user=member)


def test_reclassifying_needs_a_new_signoff_and_a_rejection_replaces_an_approval(system, member, board):
    classify(system, member, **HIGH_RISK)
    review = services.board_review_request(system=system, acting_user=member)
    services.board_review_decide(review=review, acting_user=board, decision="approved", rationale="OK")
    assert selectors.valid_signoff(system) is not None
    classify(system, member, **HIGH_RISK)
    assert selectors.valid_signoff(system) is None
    review = services.board_review_request(system=system, acting_user=member)
    services.board_review_decide(review=review, acting_user=board, decision="rejected", rationale="Missing FRIA")
    assert selectors.valid_signoff(system) is None


def test_staff_name_board_members_who_must_be_hub_members(hub, staff, member, other_hub):
    services.board_member_add(hub=hub, user=member, acting_user=staff, title="DPO")
    assert selectors.board_members(hub).get().user == member
    with pytest.raises(ValidationError):
        services.board_member_add(hub=hub, user=UserFactory(), acting_user=staff)
    with pytest.raises(PermissionDenied):
        services.board_member_add(hub=other_hub, user=member, acting_user=staff)


def test_answers_prefilled_from_the_last_assessment(system, member):
    classify(system, member, **HIGH_RISK)
    draft = services.assessment_start(system=system, acting_user=member)
    assert draft.answers["annex_iii_5"] == "5d"
    assert Assessment.objects.filter(system=system).count() == 2
    assert answers()["ai_system"] == "yes"
