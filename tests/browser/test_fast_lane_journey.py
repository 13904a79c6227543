"""A hub member applies to a fast-lane call in the browser: creates a project, fills the form
(two resource rows, the estimate updating as they type), submits, and sees the worker's
approval with the allocation and its balance appear; the project page then shows it."""

import re

import pytest
from playwright.sync_api import expect

from compute.models import MILLI, Application, AppStatus, Track
from hubs.models import Role
from tests.compute.factories import CallFactory, ComputeProviderFactory, ComputeResourceFactory
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
TIMES = "\u00d7"  # the multiplication sign of "hours x rate"


def eventually(page, check, timeout_ms=5_000):
    """Wait until ``check()`` (a database read) is true: autosave runs in the background."""
    waited = 0
    while not check():
        assert waited < timeout_ms, "timed out waiting for the draft to be saved"
        page.wait_for_timeout(100)
        waited += 100


def log_in(page, email):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()


def test_fast_lane_application_is_approved_by_the_worker_and_the_allocation_appears(new_page):
    hub = HubFactory(name="Berlin AI Gigafactory", slug="berlin", city="Berlin", country="DE")
    member = verified_user(email="lena@berlin.example.org", name="Lena Forscher")
    MembershipFactory(user=member, hub=hub, role=Role.MEMBER)
    provider = ComputeProviderFactory(hub=hub, name="Berlin HPC")
    h100 = ComputeResourceFactory(provider=provider, name="Spree H100", rate_millicredits=1000)
    h200 = ComputeResourceFactory(provider=provider, name="Spree H200", gpu_model="NVIDIA H200", rate_millicredits=1300)
    call = CallFactory(
        hub=hub, title="Berlin fast lane", track=Track.FAST_LANE, resources=[h100, h200], funded=20_000 * MILLI
    )

    page = new_page()
    log_in(page, member.email)

    # From the call page to the apply page; a new project at the call's hub.
    page.goto(call.get_absolute_url())
    page.get_by_test_id("apply").click()
    page.get_by_role("heading", name="Apply to “Berlin fast lane”").wait_for()
    page.get_by_label("Title").fill("Speech models for public services")
    page.get_by_role("button", name="Create the project and start").click()
    page.get_by_text("Project “Speech models for public services” created").wait_for()

    # The form: fields, a first row on the preselected resource, a second row added by HTMX.
    page.get_by_label("Title").fill("Whisper fine-tuning for Berlin's city hall")
    page.get_by_label("Abstract").fill("We fine-tune an open speech model on public council recordings.")
    page.get_by_label("Justification of the GPU-hours").fill("Three runs of 130 GPU-hours each.")
    rows = page.get_by_test_id("resource-row")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).get_by_label("Resource")).to_have_value(str(h100.pk))
    rows.nth(0).get_by_label("GPU-hours").fill("400")
    expect(page.get_by_test_id("estimate-total")).to_have_text("400")

    page.get_by_role("button", name="+ Add a resource").click()
    expect(rows).to_have_count(2)
    second = rows.nth(1)
    expect(second.get_by_label("Resource")).to_have_value(str(h200.pk))
    expect(second.get_by_label("Resource")).to_be_focused()
    second.get_by_label("GPU-hours").fill("100")
    expect(page.get_by_test_id("estimate-total")).to_have_text("530")
    expect(page.get_by_test_id("estimate-formula").nth(1)).to_have_text(f"100 {TIMES} 1.3")

    page.get_by_label("I declare that the work is for civilian purposes only").check()
    expect(page.get_by_test_id("save-status")).to_contain_text("Draft saved at")
    eventually(page, lambda: Application.objects.filter(requested_millicredits=530 * MILLI, civilian_use=True).exists())
    application = Application.objects.get()
    assert application.status == AppStatus.DRAFT

    # Submit (confirm), and the worker's decision shows up on the application page.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("application-status")).to_have_text("Approved", timeout=10_000)
    expect(page.get_by_test_id("allocation-granted")).to_have_text("530 credits")
    expect(page.get_by_test_id("allocation-balance")).to_contain_text("530")
    expect(page.get_by_test_id("screening")).to_contain_text("Every check passed.")
    application.refresh_from_db()
    assert application.status == AppStatus.APPROVED

    # The project page shows the allocation.
    page.get_by_role("link", name="Speech models for public services").first.click()
    page.get_by_role("heading", name="Speech models for public services").wait_for()
    allocation = page.get_by_test_id("allocation-row")
    expect(allocation).to_have_count(1)
    expect(allocation).to_contain_text("Whisper fine-tuning for Berlin's city hall")
    expect(allocation.get_by_test_id("allocation-balance")).to_have_text("530")


def test_removing_a_row_updates_the_estimate_and_the_saved_draft(new_page):
    hub = HubFactory(name="Lisbon AI Gigafactory", slug="lisbon", city="Lisbon", country="PT")
    member = verified_user(email="rui@lisbon.example.org", name="Rui")
    MembershipFactory(user=member, hub=hub, role=Role.MEMBER)
    provider = ComputeProviderFactory(hub=hub)
    a100 = ComputeResourceFactory(provider=provider, name="Tejo A100", rate_millicredits=600)
    h100 = ComputeResourceFactory(provider=provider, name="Tejo H100", rate_millicredits=1000)
    call = CallFactory(hub=hub, title="Lisbon fast lane", resources=[a100, h100], funded=10_000 * MILLI)

    page = new_page()
    log_in(page, member.email)
    page.goto(f"/calls/{call.slug}/apply/")
    page.get_by_label("Title").fill("Ocean models")
    page.get_by_role("button", name="Create the project and start").click()
    rows = page.get_by_test_id("resource-row")
    rows.nth(0).get_by_label("GPU-hours").fill("100")
    page.get_by_role("button", name="+ Add a resource").click()
    rows.nth(1).get_by_label("GPU-hours").fill("50")
    expect(page.get_by_test_id("estimate-total")).to_have_text("110")
    expect(page.get_by_test_id("save-status")).to_contain_text("Draft saved at")
    eventually(page, lambda: Application.objects.get().requested_millicredits == 110 * MILLI)

    # A bad number: a message by the field, and nothing saved.
    rows.nth(1).get_by_label("GPU-hours").fill("fifty")
    expect(page.get_by_test_id("save-status")).to_contain_text("Not saved yet")
    expect(rows.nth(1)).to_contain_text("Enter a whole number of GPU-hours")
    assert Application.objects.get().requested_millicredits == 110 * MILLI

    rows.nth(1).get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("estimate-total")).to_have_text("60")
    expect(page.get_by_test_id("save-status")).to_contain_text("Draft saved at")
    expect(page.get_by_role("button", name="+ Add a resource")).to_be_focused()
    eventually(page, lambda: Application.objects.get().requested_millicredits == 60 * MILLI)
    application = Application.objects.get()
    assert list(application.resource_requests.values_list("gpu_hours", flat=True)) == [100]
