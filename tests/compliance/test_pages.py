"""The compliance pages as a user meets them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance import selectors, services
from compliance.models import AISystem, Assessment, Evidence, ItemStatus
from tests.compute.factories import ProjectFactory
from tests.conftest import verified_user
from tests.factories import OrganisationFactory

from .factories import HIGH_RISK, AISystemFactory, answers, classify

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_the_list_says_what_to_do_when_empty(member_client):
    page = member_client.get(reverse("compliance:system_list"))
    assert page.status_code == 200
    assert b"No AI system yet" in page.content
    assert b"Not legal advice" in page.content


def test_the_list_shows_class_and_progress_with_constant_queries(
    member_client, hub, member, organisation, django_assert_max_num_queries
):
    for _ in range(3):
        classify(AISystemFactory(hub=hub, owner=member, organisation=organisation), member, **HIGH_RISK)
    with django_assert_max_num_queries(12):
        first = member_client.get(reverse("compliance:system_list"))
    for n in range(5):
        AISystemFactory(hub=hub, owner=member, organisation=organisation, name=f"More {n}")
    with django_assert_max_num_queries(12):
        page = member_client.get(reverse("compliance:system_list"))
    assert first.status_code == page.status_code == 200
    assert page.content.count(b'data-testid="system-row"') == 8
    assert b"High-risk: Annex III use case" in page.content
    assert b"Sign-off needed" in page.content
    filtered = member_client.get(reverse("compliance:system_list"), {"risk_class": "unassessed"})
    assert filtered.content.count(b'data-testid="system-row"') == 5


def test_registering_without_a_hub_sends_to_the_hub_directory(client, db):
    # Regression: the redirect named a URL that does not exist ("hubs:hub_list"): a 500.
    client.force_login(verified_user(name="Nomad"))
    response = client.get(reverse("compliance:system_create"))
    assert response.status_code == 302
    assert response["Location"] == reverse("hubs:directory")


def test_registering_from_the_browser(member_client, hub, member):
    org = OrganisationFactory(name="Agri Lab")
    url = reverse("compliance:system_create")
    form = {
        "name": "Crop water-need predictor",
        "hub": hub.pk,
        "organisation": org.pk,
        "intended_purpose": "Advises farmers how much to irrigate.",
        "role": "provider",
        "sector": "agriculture",
        "input_modality": "time_series",
        "output_modality": "tabular",
        "deployment_status": "testing",
        "training_compute_flop": "2e19",
    }
    bad = member_client.post(url, form | {"training_compute_flop": "lots", "name": ""})
    assert bad.status_code == 200
    assert b"This field is required" in bad.content
    assert b"Enter a number" in bad.content
    assert not AISystem.objects.exists()
    response = member_client.post(url, form)
    system = AISystem.objects.get()
    assert response.url == system.get_absolute_url()
    assert system.training_compute_flop == 2e19
    page = member_client.get(system.get_absolute_url())
    assert b"Classify this system" in page.content


def test_the_wizard_saves_each_answer_and_reveals_the_next_questions(member_client, system):
    member_client.post(reverse("compliance:assessment_start", args=[system.pk]))
    draft = Assessment.objects.get()
    url = reverse("compliance:wizard", args=[draft.pk])
    page = member_client.get(url)
    assert b'data-testid="q-ai_system"' in page.content
    assert b'data-testid="q-art5_a"' not in page.content  # the Art. 5 section comes after scope
    partial = member_client.post(
        url,
        {
            "ai_system": "yes",
            "eu_nexus": "yes",
            "excl_military": "no",
            "excl_research": "no",
            "excl_personal": "no",
            "open_source": "no",
        },
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200
    assert b"<html" not in partial.content  # only the wizard body
    assert b'data-testid="q-art5_a"' in partial.content
    assert b"Saved at" in partial.content
    assert b'data-testid="provisional"' not in partial.content  # no "minimal" before the Art. 5 questions
    draft.refresh_from_db()
    assert draft.answers["ai_system"] == "yes"
    bad = member_client.post(url, {"annex_iii_1": "zz"}, headers={"HX-Request": "true"})
    assert b"Pick one of" in bad.content
    assert b"Not saved" in bad.content


def test_submitting_shows_the_result_with_reasoning_dates_and_notice(member_client, system, member):
    draft = services.assessment_start(system=system, acting_user=member)
    full = answers(**HIGH_RISK)
    member_client.post(reverse("compliance:wizard", args=[draft.pk]), full)
    response = member_client.post(reverse("compliance:assessment_submit", args=[draft.pk]))
    assert response.url == draft.get_absolute_url()
    page = member_client.get(draft.get_absolute_url())
    body = page.content.decode()
    assert "High-risk: Annex III use case" in body
    assert "Annex III point 5(d)" in body
    assert "Art. 6(2)" in body
    assert "2027-12-02" in body
    assert "Not legal advice" in body
    detail = member_client.get(system.get_absolute_url()).content.decode()
    assert 'data-testid="checklist-item"' in detail
    assert "Art. 10" in detail


@pytest.fixture
def item(system, member):
    classify(system, member, **HIGH_RISK)
    return selectors.checklist_item_for_article(system, "Art. 10")


def test_uploading_evidence_and_downloading_it(member_client, item):
    url = item.get_absolute_url()
    response = member_client.post(
        url, {"action": "file", "evidence_type": "TEST", "file": SimpleUploadedFile("bias-report.pdf", PDF)}
    )
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    download = member_client.get(reverse("compliance:evidence_download", args=[evidence.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "attachment" in download["Content-Disposition"]


def test_a_bad_upload_is_explained_on_the_page(member_client, item):
    response = member_client.post(
        item.get_absolute_url(), {"action": "file", "evidence_type": "DOC", "file": SimpleUploadedFile("x.exe", b"MZ")}
    )
    assert response.status_code == 200
    assert b"is not an accepted type" in response.content
    assert not Evidence.objects.exists()


def test_not_applicable_without_a_reason_is_refused_on_the_page(member_client, item):
    response = member_client.post(item.get_absolute_url(), {"action": "status", "status": "not_applicable"})
    assert b"Say why this obligation does not apply" in response.content
    item.refresh_from_db()
    assert item.status == ItemStatus.TODO


def test_the_board_decides_on_the_system_page(client, system, member, board):
    classify(system, member, **HIGH_RISK)
    review = services.board_review_request(system=system, acting_user=member)
    client.force_login(board)
    page = client.get(system.get_absolute_url())
    assert b'data-testid="decision-form"' in page.content
    bad = client.post(
        reverse("compliance:review_decide", args=[review.pk]),
        {"decision": "approved_with_conditions", "rationale": "ok"},
    )
    assert bad.status_code == 400
    assert b"State the conditions" in bad.content
    client.post(
        reverse("compliance:review_decide", args=[review.pk]), {"decision": "approved", "rationale": "Sound design"}
    )
    assert selectors.valid_signoff(system) is not None


def test_staff_of_another_hub_cannot_see_or_change_the_system(client, system, member, other_staff):
    classify(system, member, **HIGH_RISK)
    item = selectors.checklist_item_for_article(system, "Art. 10")
    client.force_login(other_staff)
    assert client.get(system.get_absolute_url()).status_code == 404
    assert client.get(item.get_absolute_url()).status_code == 404
    assert client.post(item.get_absolute_url(), {"action": "status", "status": "done"}).status_code == 404
    assert client.get(reverse("compliance:dossier", args=[system.pk])).status_code == 404
    listing = client.get(reverse("compliance:system_list")).content.decode()
    assert system.name not in listing
    assert "No AI system yet" in listing
    item.refresh_from_db()
    assert item.status == ItemStatus.TODO


def test_staff_of_the_hub_see_the_system(staff_client, system):
    assert staff_client.get(system.get_absolute_url()).status_code == 200


def test_the_dossier_prints_and_downloads(member_client, system, member):
    classify(system, member, **HIGH_RISK)
    page = member_client.get(reverse("compliance:dossier", args=[system.pk]))
    assert b"Compliance dossier: Mammography triage" in page.content
    assert b'data-testid="dossier-checklist"' in page.content
    md = member_client.get(reverse("compliance:dossier_download", args=[system.pk, "md"]))
    text = md.content.decode()
    assert md["Content-Type"].startswith("text/markdown")
    assert "## Classification" in text
    assert "| Art. 10 |" in text
    js = member_client.get(reverse("compliance:dossier_download", args=[system.pk, "json"]))
    assert js.json()["classification"]["risk_class"] == "high_risk_annex_iii"


def test_the_links_page_offers_your_projects_and_keeps_links_made_by_others(member_client, system, member, staff, hub):
    mine = ProjectFactory(hub=hub, pi=member, title="Screening study")
    staffs = ProjectFactory(hub=hub, title="Hub programme")
    ProjectFactory(hub=hub, title="Unrelated project")
    services.system_link(system=system, acting_user=staff, projects=[staffs])
    url = reverse("compliance:system_links", args=[system.pk])
    page = member_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Screening study" in body
    assert "Hub programme" in body  # linked by staff: it may stay
    assert "Unrelated project" not in body
    response = member_client.post(url, {"projects": [mine.pk, staffs.pk]})
    assert response.status_code == 302
    assert set(system.projects.all()) == {mine, staffs}


def test_the_links_page_links_the_pilots_you_lead_at_the_systems_hub(member_client, system, member, hub, other_hub):
    from tests.pilots.factories import PilotFactory

    mine = PilotFactory(hub=hub, lead=member, title="Breast screening in Lyon")
    PilotFactory(hub=hub, title="Someone else's pilot")
    PilotFactory(hub=other_hub, lead=member, title="My Helsinki pilot")
    url = reverse("compliance:system_links", args=[system.pk])
    body = member_client.get(url).content.decode()
    assert "Breast screening in Lyon" in body
    assert "Someone else's pilot" not in body
    assert "My Helsinki pilot" not in body  # another hub's pilot cannot deploy this hub's system here
    response = member_client.post(url, {"pilots": [mine.pk]})
    assert response.status_code == 302
    assert list(system.pilots.all()) == [mine]
