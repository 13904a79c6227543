"""The compliance admin as hub staff use it: scoped lists and pages with pinned query counts, edits
through the services, and the workflow actions (board review, checklist, decisions, evidence, board
seats) writing the audit trail."""

import csv
import io

import pytest
from django.contrib.admin import helpers
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance import services
from compliance.models import (
    AISystem,
    Assessment,
    BoardMember,
    BoardReview,
    ChecklistItem,
    Evidence,
    ItemStatus,
    ReviewStatus,
)
from gigafactory.audit import audit_trail_for
from hubs.models import Role
from tests.compute.factories import ProjectFactory
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .factories import HIGH_RISK, AISystemFactory, BoardMemberFactory, classify

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"
MODELS = ["aisystem", "assessment", "checklistitem", "evidence", "boardmember", "boardreview"]


def changelist(model):
    return reverse(f"admin:compliance_{model}_changelist")


def change(model, pk):
    return reverse(f"admin:compliance_{model}_change", args=[pk])


def rows(response):
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, model, action, objs, **extra):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objs], "index": "0"} | extra
    return client.post(changelist(model), data)


def confirm(client, model, action, objs, **extra):
    """The intermediate page's form posts back without "index", with "apply"."""
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objs], "apply": "1"} | extra
    return client.post(changelist(model), data)


def board_member_of(hub, name):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    BoardMemberFactory(hub=hub, user=user, title="Member")
    return user


def populate(hub, owner, count, prefix):
    """``count`` classified high-risk systems at ``hub``, each with a link and a file as evidence on its
    first item and a review waiting for the board (the hub needs a board member)."""
    systems = []
    for n in range(count):
        system = AISystemFactory(hub=hub, owner=owner, name=f"{prefix} system {n}")
        classify(system, owner, **HIGH_RISK)
        item = ChecklistItem.objects.filter(system=system).order_by("position").first()
        services.evidence_link_add(
            item=item, label=f"{prefix} DPIA {n}", url="https://example.org/dpia", acting_user=owner
        )
        services.evidence_file_add(
            item=item, acting_user=owner, uploaded=SimpleUploadedFile(f"report-{n}.pdf", PDF, "application/pdf")
        )
        services.board_review_request(system=system, acting_user=owner)
        systems.append(system)
    return systems


@pytest.fixture
def ours(hub, member, board):
    return populate(hub, member, 1, "Lyon")


@pytest.fixture
def theirs(other_hub, other_staff):
    board_member_of(other_hub, "Hanna Helsinki")
    owner = verified_user(name="Otto Owner")
    MembershipFactory(user=owner, hub=other_hub, role=Role.MEMBER)
    return populate(other_hub, owner, 1, "Helsinki")


def first_of(model, hub):
    field = {
        AISystem: "hub",
        Assessment: "system__hub",
        ChecklistItem: "system__hub",
        Evidence: "item__system__hub",
        BoardMember: "hub",
        BoardReview: "system__hub",
    }[model]
    return model.objects.filter(**{field: hub}).order_by("pk").first()


MODEL_OF = {
    "aisystem": AISystem,
    "assessment": Assessment,
    "checklistitem": ChecklistItem,
    "evidence": Evidence,
    "boardmember": BoardMember,
    "boardreview": BoardReview,
}

# Every page: session, user, MFA check, staff roles; the side bar's permissions of other apps' admins (2);
# unread notifications. Lists add: filtered count, full count, the page of rows (their joins included).
LIST_QUERIES = {
    "aisystem": 11,  # + hub filter choices
    "assessment": 14,  # + hub filter choices, questionnaire versions, date hierarchy (2)
    "checklistitem": 13,  # + hub filter choices, date hierarchy (2)
    "evidence": 13,  # + hub filter choices, date hierarchy (2)
    "boardmember": 11,  # + hub filter choices
    "boardreview": 14,  # + the user's board seats (decision actions), hub filter choices, date hierarchy (2)
}
# Change pages: the object with its joins, then what the page shows of it.
CHANGE_QUERIES = {
    "aisystem": 15,  # + linkable projects, applications, the three inlines, hub, owner, organisation, audit trail
    "assessment": 8,  # (everything read-only, joined)
    "checklistitem": 11,  # + system for the owner choices, owner choices, evidence, audit trail
    "evidence": 8,  # + the item (for its link)
    "boardmember": 9,  # + audit trail, the hub and user choices
    "boardreview": 9,  # + audit trail
}


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_and_change_page_renders_with_the_same_queries_for_more_rows(
    staff_client, hub, member, board, theirs, model, django_assert_num_queries
):
    populate(hub, member, 1, "Lyon")
    obj = first_of(MODEL_OF[model], hub)
    ContentType.objects.get_for_model(obj)  # cached per process: warm, as in a running server
    with django_assert_num_queries(LIST_QUERIES[model]):
        few = rows(staff_client.get(changelist(model)))
    with django_assert_num_queries(CHANGE_QUERIES[model]):
        page = staff_client.get(change(model, obj.pk))
    assert page.status_code == 200

    populate(hub, member, 4, "Grenoble")
    item = ChecklistItem.objects.filter(system__hub=hub).order_by("pk").first()
    for n in range(3):
        services.evidence_link_add(item=item, label=f"More {n}", url="https://example.org/more", acting_user=member)
        board_member_of(hub, f"Board member {n}")
    with django_assert_num_queries(LIST_QUERIES[model]):
        more = rows(staff_client.get(changelist(model)))
    with django_assert_num_queries(CHANGE_QUERIES[model]):
        assert staff_client.get(change(model, obj.pk)).status_code == 200
    assert len(more) > len(few)


# --- Scoping -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_staff_of_another_hub_see_none_of_the_hubs_rows(client, hub, other_hub, other_staff, ours, theirs, model):
    client.force_login(other_staff)
    shown = rows(client.get(changelist(model)))
    assert shown
    assert all(MODEL_OF[model].objects.filter(pk=o.pk).exists() for o in shown)
    ours_row = first_of(MODEL_OF[model], hub)
    assert ours_row.pk not in {o.pk for o in shown}
    assert change(model, ours_row.pk) not in client.get(changelist(model)).content.decode()
    response = client.get(change(model, ours_row.pk))
    assert response.status_code == 302  # the admin's "doesn't exist" redirect to the index
    assert "doesn\u2019t exist" in messages_of(response)[0]


def test_the_hub_filter_names_only_the_staff_members_hubs(staff_client, ours, theirs):
    body = staff_client.get(changelist("aisystem")).content.decode()
    assert "Lyon AI Gigafactory" in body
    assert "Helsinki AI Gigafactory" not in body


def test_members_and_board_members_who_run_no_hub_have_no_admin(client, member, board, ours):
    for user in (member, board):
        client.force_login(user)
        assert client.get(changelist("aisystem")).status_code == 302  # to the admin login


def test_a_superuser_sees_every_hub(client, ours, theirs):
    from hubs.models import User
    from tests.conftest import enable_mfa

    root = User.objects.create_superuser(email="root@example.org", password="x" * 12)
    enable_mfa(root)
    client.force_login(root)
    assert len(rows(client.get(changelist("aisystem")))) == 2


# --- Systems: edits through the services, class read-only --------------------------------------------


def system_form(system, **changes):
    data = {
        "name": system.name,
        "organisation": system.organisation_id,
        "intended_purpose": system.intended_purpose,
        "role": system.role,
        "sector": system.sector,
        "input_modality": system.input_modality,
        "output_modality": system.output_modality,
        "deployment_status": system.deployment_status,
        "gpai_base_model": "",
        "training_compute_flop": "",
        "on_market_since": "",
        "projects": [p.pk for p in system.projects.all()],
        "applications": [a.pk for a in system.applications.all()],
    }
    for prefix in ("assessments", "checklist_items", "board_reviews"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    data |= changes
    return {k: v for k, v in data.items() if v is not False}


def test_editing_a_system_goes_through_the_service_and_leaves_the_class_alone(staff_client, staff, hub, ours):
    [system] = ours
    project = ProjectFactory(hub=hub, title="Screening study")
    response = staff_client.post(
        change("aisystem", system.pk),
        system_form(
            system, deployment_status="deployed", uses_health_data="on", risk_class="minimal", projects=[project.pk]
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    system.refresh_from_db()
    assert system.deployment_status == "deployed"
    assert system.uses_personal_data  # health data is personal data, as the service says
    assert system.risk_class == "high_risk_annex_iii"  # read-only: only a submitted assessment changes it
    assert list(system.projects.all()) == [project]
    actions = [e.action for e in audit_trail_for(system)]
    assert {"ai_system.updated", "ai_system.linked", "checklist.regenerated"} <= set(actions)
    assert system.checklist_items.filter(key="gdpr_art9", obsolete_at__isnull=True).exists()  # health data
    updated = audit_trail_for(system).get(action="ai_system.updated")
    assert updated.actor == staff
    assert updated.after["deployment_status"] == "deployed"


def test_a_system_cannot_be_linked_to_another_hubs_project_nor_renamed_to_a_taken_name(
    staff_client, hub, other_hub, ours
):
    [system] = ours
    AISystemFactory(hub=hub, name="Taken name")
    foreign = ProjectFactory(hub=other_hub, title="Helsinki project")
    response = staff_client.post(
        change("aisystem", system.pk), system_form(system, name="taken NAME", projects=[foreign.pk])
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "already has an AI system called" in errors["name"][0]
    assert "Select a valid choice" in errors["projects"][0]
    assert not system.projects.exists()
    assert not audit_trail_for(system).filter(action__in=["ai_system.updated", "ai_system.linked"]).exists()


def test_systems_are_registered_in_the_portal_not_the_admin(staff_client):
    assert staff_client.get(reverse("admin:compliance_aisystem_add")).status_code == 403


def test_staff_ask_the_board_for_review_by_action(staff_client, staff, hub, member, board):
    system = AISystemFactory(hub=hub, owner=member, name="Triage")
    classify(system, member, **HIGH_RISK)
    unclassified = AISystemFactory(hub=hub, owner=member, name="Not classified")
    response = act(staff_client, "aisystem", "request_board_review", [system, unclassified])
    review = BoardReview.objects.get(system=system)
    assert review.status == ReviewStatus.PENDING
    assert review.requested_by == staff
    assert audit_trail_for(review).get().action == "board_review.requested"
    assert not BoardReview.objects.filter(system=unclassified).exists()
    texts = messages_of(response)
    assert "1 sent to the ethics board." in texts
    assert any("Classify the system before asking the board" in t for t in texts)


def test_export_neutralises_spreadsheet_formulas(staff_client, hub, member):
    system = AISystemFactory(hub=hub, owner=member, name='=HYPERLINK("http://evil")')
    response = act(staff_client, "aisystem", "export_csv", [system])
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0][:2] == ["name", "hub"]
    assert table[1][0] == '\'=HYPERLINK("http://evil")'
    assert table[1][1] == "Lyon AI Gigafactory"


# --- Assessments: records ----------------------------------------------------------------------------------


def test_assessments_are_read_only(staff_client, ours):
    assessment = Assessment.objects.get(system=ours[0])
    page = staff_client.get(change("assessment", assessment.pk))
    assert page.status_code == 200
    assert b'name="risk_class"' not in page.content
    assert b"High-risk: Annex III use case" in page.content
    assert staff_client.post(change("assessment", assessment.pk), {"risk_class": "minimal"}).status_code == 403
    assert staff_client.get(reverse("admin:compliance_assessment_add")).status_code == 403
    assessment.refresh_from_db()
    assert assessment.risk_class == "high_risk_annex_iii"


# --- Checklist items ------------------------------------------------------------------------------------------


def test_items_are_marked_by_action_through_the_service(staff_client, staff, ours):
    items = list(ChecklistItem.objects.filter(system=ours[0]).order_by("position")[:2])
    response = act(staff_client, "checklistitem", "mark_done", items)
    assert "2 marked done." in messages_of(response)
    for item in items:
        item.refresh_from_db()
        assert item.status == ItemStatus.DONE
        assert item.completed_at is not None
        event = audit_trail_for(item).filter(action="checklist_item.updated").get()
        assert (event.actor, event.after) == (staff, {"status": "done"})
    act(staff_client, "checklistitem", "mark_todo", items[:1])
    items[0].refresh_from_db()
    assert (items[0].status, items[0].completed_at) == (ItemStatus.TODO, None)


def test_not_applicable_asks_for_a_justification_first(staff_client, ours):
    item = ChecklistItem.objects.filter(system=ours[0]).order_by("position").last()
    page = act(staff_client, "checklistitem", "mark_not_applicable", [item])
    assert page.status_code == 200
    assert str(item) in page.content.decode()
    refused = confirm(staff_client, "checklistitem", "mark_not_applicable", [item], justification="")
    assert "Say why these obligations do not apply." in refused.content.decode()
    item.refresh_from_db()
    assert item.status != ItemStatus.NOT_APPLICABLE
    done = confirm(
        staff_client, "checklistitem", "mark_not_applicable", [item], justification="We deploy no such feature."
    )
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.justification) == (ItemStatus.NOT_APPLICABLE, "We deploy no such feature.")
    assert audit_trail_for(item).filter(action="checklist_item.updated").exists()


def test_the_item_page_changes_owner_and_justification_but_not_the_status(staff_client, hub, member, board, ours):
    item = ChecklistItem.objects.filter(system=ours[0]).order_by("position").first()
    page = staff_client.get(change("checklistitem", item.pk))
    body = page.content.decode()
    assert "Lyon DPIA 0" in body  # the evidence, listed
    assert 'name="status"' not in body
    owners = {u.pk for u in page.context["adminform"].form.fields["owner"].queryset}
    assert owners == {member.pk, board.pk}  # the system's team and its hub's board
    outsider = verified_user(name="Not on the team")
    refused = staff_client.post(change("checklistitem", item.pk), {"owner": outsider.pk, "justification": ""})
    assert refused.status_code == 200
    response = staff_client.post(
        change("checklistitem", item.pk), {"owner": board.pk, "justification": "", "status": "done"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.owner == board
    assert item.status == ItemStatus.IN_PROGRESS  # unchanged (evidence moved it from to do)
    assert audit_trail_for(item).filter(action="checklist_item.updated").get().after == {"owner": board.pk}


# --- Evidence ------------------------------------------------------------------------------------------------------


def test_evidence_is_listed_read_only_and_removed_by_action_with_the_audit_trail(staff_client, ours):
    link, upload = Evidence.objects.filter(item__system=ours[0]).order_by("pk")
    page = staff_client.get(change("evidence", upload.pk))
    assert reverse("compliance:evidence_download", args=[upload.pk]) in page.content.decode()
    assert staff_client.post(change("evidence", upload.pk), {"label": "x"}).status_code == 403
    response = act(staff_client, "evidence", "remove_evidence", [link])
    assert "1 removed." in messages_of(response)
    assert list(Evidence.objects.filter(item__system=ours[0])) == [upload]
    assert audit_trail_for(link.item).filter(action="evidence.removed").get().before["label"] == link.label


# --- Ethics board ---------------------------------------------------------------------------------------------------


def test_staff_name_board_members_through_the_service(staff_client, staff, hub, other_hub):
    colleague = verified_user(name="Chloé Chair")
    MembershipFactory(user=colleague, hub=hub, role=Role.MEMBER)
    stranger = verified_user(name="Not a member")
    add = reverse("admin:compliance_boardmember_add")
    form = staff_client.get(add).context["adminform"].form
    assert set(form.fields["hub"].queryset) == {hub}
    assert stranger not in form.fields["user"].queryset
    refused = staff_client.post(add, {"hub": hub.pk, "user": stranger.pk, "title": ""})
    assert refused.status_code == 200
    assert not BoardMember.objects.filter(user=stranger).exists()
    response = staff_client.post(add, {"hub": hub.pk, "user": colleague.pk, "title": "Chair"})
    assert response.status_code == 302
    seat = BoardMember.objects.get(user=colleague)
    assert (seat.hub, seat.title, seat.active, seat.added_by) == (hub, "Chair", True, staff)
    assert audit_trail_for(seat).get().action == "board_member.added"


def test_board_members_are_removed_and_reinstated_by_action(staff_client, hub, board):
    seat = BoardMember.objects.get(user=board)
    act(staff_client, "boardmember", "remove_board_members", [seat])
    seat.refresh_from_db()
    assert not seat.active
    assert staff_client.post(change("boardmember", seat.pk), {"title": "Chair"}).status_code == 403
    act(staff_client, "boardmember", "reinstate_board_members", [seat])
    seat.refresh_from_db()
    assert seat.active
    assert [e.action for e in audit_trail_for(seat)] == ["board_member.added", "board_member.removed"]


def test_a_board_member_who_runs_the_hub_decides_with_a_rationale(staff_client, staff, hub, ours):
    review = BoardReview.objects.get(system=ours[0])
    offered = dict(staff_client.get(changelist("boardreview")).context["action_form"].fields["action"].choices)
    assert "decide_approved" not in offered  # staff who are not on the board do not decide
    BoardMemberFactory(hub=hub, user=staff, title="Data protection officer")
    offered = dict(staff_client.get(changelist("boardreview")).context["action_form"].fields["action"].choices)
    assert {"decide_approved", "decide_approved_with_conditions", "decide_rejected"} <= set(offered)

    page = act(staff_client, "boardreview", "decide_approved_with_conditions", [review])
    assert page.status_code == 200
    refused = confirm(
        staff_client, "boardreview", "decide_approved_with_conditions", [review], rationale="Sound.", conditions=""
    )
    assert "State the conditions of the approval." in refused.content.decode()
    response = confirm(
        staff_client,
        "boardreview",
        "decide_approved_with_conditions",
        [review],
        rationale="A sound risk-management plan.",
        conditions="Re-validate on the 2027 cohort.",
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.decided_by, review.conditions) == (
        ReviewStatus.APPROVED_WITH_CONDITIONS,
        staff,
        "Re-validate on the 2027 cohort.",
    )
    event = audit_trail_for(review).get(action="board_review.decided")
    assert (event.actor, event.after["rationale"]) == (staff, "A sound risk-management plan.")
    again = confirm(staff_client, "boardreview", "decide_rejected", [review], rationale="Changed my mind.")
    assert any("already approved with conditions" in m for m in messages_of(again))


def test_a_board_member_does_not_decide_on_their_own_system(staff_client, staff, hub, board):
    BoardMemberFactory(hub=hub, user=staff, title="Member")
    own = AISystemFactory(hub=hub, owner=staff, name="Staff's own system")
    classify(own, staff, **HIGH_RISK)
    review = services.board_review_request(system=own, acting_user=staff)
    response = confirm(staff_client, "boardreview", "decide_approved", [review], rationale="Fine.")
    assert any("another board member must decide" in m for m in messages_of(response))
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING


def test_reviews_are_withdrawn_by_action(staff_client, ours):
    review = BoardReview.objects.get(system=ours[0])
    act(staff_client, "boardreview", "withdraw_reviews", [review])
    review.refresh_from_db()
    assert review.status == ReviewStatus.WITHDRAWN
    assert audit_trail_for(review).filter(action="board_review.withdrawn").exists()
    assert staff_client.post(change("boardreview", review.pk), {"status": "approved"}).status_code == 403


def test_linking_autocompletes_only_the_staff_members_hubs_projects(staff_client, hub, other_hub, ours):
    ProjectFactory(hub=hub, title="Triage pilot study")
    ProjectFactory(hub=other_hub, title="Triage in Helsinki")
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "compliance", "model_name": "aisystem", "field_name": "projects", "term": "Triage"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Triage pilot study"]
