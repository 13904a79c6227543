"""The AI Act journey in the browser: a researcher whose fast-lane application was held back by the
AI Act check classifies the linked system step by step in the wizard (the progress indicator moves,
questions that earlier answers make moot disappear), reads the result (class, Annex III point,
reasoning with articles, dates), works the checklist (a link and a file as evidence), asks the
ethics board for review; a board member signs in and approves with a rationale; the researcher
resubmits the application and the screening report shows the AI Act check passing."""

import re

import pytest
from playwright.sync_api import expect

from compliance import services as compliance_services
from compliance.models import Assessment, BoardReview, Evidence, EvidenceKind, ItemStatus, ReviewStatus
from compute import services as compute_services
from compute.models import MILLI, Application, AppStatus, Track
from hubs.models import Role
from tests.compute.factories import CallFactory, ComputeProviderFactory, ComputeResourceFactory
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SYSTEM = "Emergency triage assistant"

# The answers that make the system high-risk under Annex III point 5(d) (emergency triage); every
# other question that applies gets its harmless answer ("no", or "none of these").
HIGH_RISK = {"ai_system": "yes", "eu_nexus": "yes", "annex_iii_5": "5d"}


def log_in(page, email):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()


HTMX_BUSY = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def answer(page, key, value):
    """Pick an answer as a person does, one at a time: the wizard saves it (HTMX) and swaps in what
    comes next; wait until the swap has settled."""
    with page.expect_response(lambda r: "/wizard/" in r.url and r.request.method == "POST"):
        page.locator(f"#a-{key}-{value}").check()
    page.wait_for_function(HTMX_BUSY)
    expect(page.locator(f"#a-{key}-{value}")).to_be_checked()


def progress(page) -> int:
    return int(page.get_by_test_id("wizard-progress").locator("progress").get_attribute("value"))


def unanswered(page) -> list[tuple[str, str]]:
    """(question key, harmless answer) of the questions on screen that wait for an answer."""
    out = []
    for fieldset in page.locator("fieldset.question.unanswered").all():
        key = fieldset.get_attribute("data-testid").removeprefix("q-")
        first = fieldset.locator("input[type=radio]").first.get_attribute("value")
        value = HIGH_RISK.get(key, "no" if first == "yes" else first)
        out.append((key, value))
    return out


@pytest.fixture
def scenario():
    """A Lyon researcher's fast-lane application linked to their unclassified AI system: the screening
    held it back at the AI Act check, and staff sent it back to be resubmitted after the sign-off."""
    from tests.factories import HubFactory

    hub = HubFactory(name="Lyon AI Gigafactory", slug="lyon", city="Lyon", country="FR")
    researcher = verified_user(email="sofia@lyon.example.org", name="Sofia Moreau")
    MembershipFactory(user=researcher, hub=hub, role=Role.MEMBER)
    staff = verified_user(email="julien@lyon.example.org", name="Julien Martin")
    MembershipFactory(user=staff, hub=hub, role=Role.STAFF)
    chair = verified_user(email="lena@lyon.example.org", name="Lena Fischer")
    MembershipFactory(user=chair, hub=hub, role=Role.REVIEWER)
    compliance_services.board_member_add(hub=hub, user=chair, acting_user=staff, title="Chair")
    hospital = OrganisationFactory(name="Hospices Civils de Lyon", kind="hospital")

    h100 = ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub, name="Lyon HPC"), name="Lyon H100")
    call = CallFactory(hub=hub, title="Lyon fast lane", track=Track.FAST_LANE, resources=[h100], funded=20_000 * MILLI)
    project = compute_services.project_create(
        hub=hub, title="Emergency-room triage", organisation=hospital, acting_user=researcher
    )
    application = compute_services.application_create(
        project=project,
        call=call,
        acting_user=researcher,
        title="Triage model fine-tuning",
        abstract="Fine-tuning a model that orders emergency patients by urgency for the triage nurse.",
        justification="Three runs of 100 GPU-hours.",
        duration_days=90,
        data_sensitivity="health",
        civilian_use=True,
    )
    compute_services.application_update_draft(
        application=application, acting_user=researcher, resource_rows=[(h100, 300)]
    )
    system = compliance_services.system_create(
        hub=hub,
        acting_user=researcher,
        name=SYSTEM,
        organisation=hospital,
        intended_purpose="Orders patients arriving at the emergency department by urgency; nurses decide.",
        sector="health",
        input_modality="text",
        output_modality="decision",
        uses_personal_data=True,
        uses_health_data=True,
    )
    compliance_services.system_link(
        system=system, acting_user=researcher, projects=[project], applications=[application]
    )
    # The screening task runs at once (eager, on commit) and hands the application to staff.
    compute_services.application_submit(application=application, acting_user=researcher)
    application.refresh_from_db()
    assert application.status == AppStatus.IN_REVIEW
    assert not application.screening_results.get(check_key="ai_act_signoff").passed
    compute_services.application_request_changes(
        application=application,
        acting_user=staff,
        reason="Classify the linked AI system and get the Lyon ethics board's sign-off, then resubmit.",
    )
    return {"system": system, "application": application, "researcher": researcher, "chair": chair}


def test_classify_work_the_checklist_get_the_boards_sign_off_and_pass_screening(new_page, scenario, tmp_path):
    system, application = scenario["system"], scenario["application"]
    page = new_page()
    log_in(page, scenario["researcher"].email)

    # The application says what to do and links the AI system it is about.
    page.goto(application.get_absolute_url())
    expect(page.get_by_test_id("application-status")).to_have_text("Changes requested")
    expect(page.get_by_test_id("decision")).to_contain_text("ethics board's sign-off")
    expect(page.get_by_test_id("linked-system")).to_contain_text("Not assessed yet")
    page.get_by_test_id("linked-system").get_by_role("link", name=SYSTEM).click()
    page.get_by_role("heading", name=SYSTEM).wait_for()
    expect(page.get_by_test_id("risk-class").first).to_have_text("Not assessed yet")
    expect(page.get_by_test_id("gate-problem")).to_contain_text("has not been classified")

    # The wizard, step by step.
    page.get_by_test_id("classify").click()
    page.get_by_role("heading", name=f"Classify “{SYSTEM}” under the EU AI Act").wait_for()
    expect(page.get_by_test_id("section-prohibited")).to_have_count(0)  # later sections wait
    start = progress(page)
    answer(page, "ai_system", "yes")
    answer(page, "eu_nexus", "yes")
    # Quick answers, each sent before the previous one came back: none of them is lost.
    exclusions = ["excl_military", "excl_research", "excl_personal", "open_source"]
    for key in exclusions:
        page.locator(f"#a-{key}-no").check()
    page.wait_for_function(HTMX_BUSY)
    for key in exclusions:
        expect(page.locator(f"#a-{key}-no")).to_be_checked()
    expect(page.get_by_test_id("section-prohibited")).to_be_visible()
    draft = Assessment.objects.get(system=system)
    assert {k: draft.answers.get(k) for k in exclusions} == dict.fromkeys(exclusions, "no")
    assert progress(page) > start
    expect(page.get_by_test_id("wizard-progress")).to_contain_text("Saved at")

    # An answer that makes questions moot: they disappear, and come back when it changes.
    for key, value in unanswered(page):
        answer(page, key, value)
    answer(page, "annex_i_product", "mdr")
    expect(page.get_by_test_id("q-annex_i_role")).to_be_visible()
    answer(page, "annex_i_product", "none")
    expect(page.get_by_test_id("q-annex_i_role")).to_have_count(0)
    while unanswered(page):
        before = progress(page)
        for key, value in unanswered(page):
            answer(page, key, value)
        assert progress(page) >= before
    expect(page.get_by_test_id("provisional")).to_contain_text("High-risk: Annex III use case")
    assert progress(page) == 100
    page.get_by_test_id("submit-assessment").click()

    # The result: class, Annex III point, reasoning with articles, the dates that apply.
    result = page.get_by_test_id("result")
    expect(result.get_by_test_id("risk-class")).to_have_text("High-risk: Annex III use case (Art. 6(2))")
    expect(result).to_contain_text("Annex III point 5(d)")
    expect(page.get_by_test_id("reasoning")).to_contain_text("Art. 6(2)")
    expect(page.get_by_test_id("dates")).to_contain_text("2027-12-02")

    # The checklist, and evidence on the risk-management item: a link, then a file.
    page.get_by_test_id("to-checklist").click()
    items = page.get_by_test_id("checklist-item")
    expect(items.first).to_be_visible()
    assert items.count() > 5
    page.get_by_test_id("checklist-ai_act").get_by_role("link", name=re.compile("risk-management", re.I)).first.click()
    link_form = page.get_by_test_id("link-form")
    link_form.get_by_label("Label").fill("Risk-management plan v2")
    link_form.get_by_label("Address").fill("https://docs.example.org/triage/risk-plan")
    link_form.get_by_role("button", name="Add the link").click()
    page.get_by_text("Link attached.").wait_for()
    expect(page.get_by_test_id("item-status")).to_have_text("In progress")
    report = tmp_path / "risk-assessment.pdf"
    report.write_bytes(PDF)
    file_form = page.get_by_test_id("file-form")
    file_form.get_by_label("File").set_input_files(str(report))
    file_form.get_by_role("button", name="Upload").click()
    page.get_by_text("File attached.").wait_for()
    expect(page.get_by_test_id("evidence")).to_have_count(2)
    expect(page.get_by_test_id("evidence-list")).to_contain_text("risk-assessment.pdf")
    kinds = sorted(Evidence.objects.filter(item__system=system).values_list("kind", flat=True))
    assert kinds == [EvidenceKind.FILE, EvidenceKind.LINK]

    # Ask the board for review.
    page.get_by_role("link", name=re.compile("Checklist of")).click()
    page.get_by_label("Note for the board").fill("The risk-management plan is attached to Art. 9.")
    page.get_by_test_id("request-review").click()
    page.get_by_text("ethics board has been asked to review").wait_for()
    expect(page.get_by_test_id("pending-review")).to_contain_text("Waiting for the board")

    # The chair signs in, finds the review on the board page and approves with a rationale.
    board_page = new_page()
    log_in(board_page, scenario["chair"].email)
    board_page.goto("/compliance/board/")
    board_page.get_by_test_id("board-pending").get_by_role("link", name=SYSTEM).click()
    decision = board_page.get_by_test_id("decision-form")
    decision.get_by_label("Approve", exact=True).check()
    decision.get_by_label("Rationale").fill("Sound risk management; nurses stay in charge of every decision.")
    decision.get_by_role("button", name="Record the decision").click()
    board_page.get_by_text("Decision recorded: Approved.").wait_for()
    expect(board_page.get_by_test_id("signoff")).to_contain_text("Approved")
    review = BoardReview.objects.get(system=system)
    assert (review.status, review.decided_by) == (ReviewStatus.APPROVED, scenario["chair"])

    # The researcher sees the sign-off, resubmits the application, and the screening passes.
    page.reload()
    expect(page.get_by_test_id("signoff-detail")).to_contain_text("Sound risk management")
    expect(page.get_by_test_id("gate-problem")).to_have_count(0)
    page.get_by_test_id("linked-application").get_by_role("link").click()
    page.get_by_test_id("edit").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("application-status")).to_have_text("Approved", timeout=10_000)
    screening = page.get_by_test_id("screening")
    expect(screening).to_contain_text("round 2")
    check = screening.get_by_test_id("check").filter(has_text="ethics board")
    expect(check).to_contain_text("Pass")
    expect(check).to_contain_text(SYSTEM)
    application.refresh_from_db()
    assert application.status == AppStatus.APPROVED
    assert ItemStatus.IN_PROGRESS in set(system.checklist_items.values_list("status", flat=True))
    assert Application.objects.get(pk=application.pk).screening_results.get(round=2, check_key="ai_act_signoff").passed
