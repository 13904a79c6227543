"""Staff in Zagreb find a Lisbon case study in the showcase and adapt it; a member of the
Lisbon pilot's team sees the news in the inbox and both pages show the link."""

import re

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

from hubs.models import Role
from pilots import services
from pilots.models import Pilot, PilotStatus
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory
from tests.pilots.factories import MetricFactory, PartnerFactory, PilotFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def totp_now(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


def log_in(page, email, totp_secret=None):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    if totp_secret:
        page.locator("#id_code").fill(totp_now(totp_secret))
        page.get_by_role("button", name="Sign In").click()


def test_zagreb_staff_adapt_a_lisbon_case_study_and_lisbon_sees_it_in_the_inbox(new_page):
    lisbon = HubFactory(name="Lisbon AI Gigafactory", slug="lisbon", city="Lisbon", country="PT")
    zagreb = HubFactory(name="Zagreb AI Gigafactory", slug="zagreb", city="Zagreb", country="HR")
    lisbon_staff = verified_user(name="Rui Almeida")
    MembershipFactory(user=lisbon_staff, hub=lisbon, role=Role.STAFF)
    enable_mfa(lisbon_staff)
    teresa = verified_user(email="teresa@lisbon.example.org", name="Teresa Team")
    MembershipFactory(user=teresa, hub=lisbon, role=Role.MEMBER)
    ivana = verified_user(email="ivana@zagreb.example.org", name="Ivana Horvat")
    MembershipFactory(user=ivana, hub=zagreb, role=Role.STAFF)
    secret = enable_mfa(ivana)

    pilot = PilotFactory(
        hub=lisbon,
        title="Routing citizens' requests",
        sector="public_services",
        status=PilotStatus.COMPLETED,
        team=[teresa],
    )
    PartnerFactory(pilot=pilot, name="Câmara Municipal de Lisboa", role="city_council")
    MetricFactory(pilot=pilot, name="Median wait", unit="hours", baseline=52, target=6, achieved=5)
    services.case_study_publish(
        pilot=pilot,
        headline="Lisbon routes residents' requests in minutes",
        story="Requests reach the right team at once.",
        acting_user=lisbon_staff,
    )

    # Zagreb staff find the case study in the showcase, filtered to Portugal.
    page = new_page()
    log_in(page, ivana.email, totp_secret=secret)
    page.goto("/showcase/")
    page.get_by_label("Country").select_option("PT")
    card = page.get_by_test_id("case-card").filter(has_text="Lisbon routes residents' requests in minutes")
    card.get_by_test_id("adaptation-count").filter(has_text="Not adapted yet").wait_for()
    card.get_by_role("link", name="Lisbon routes residents' requests in minutes").click()
    page.get_by_role("heading", name="Lisbon routes residents' requests in minutes").wait_for()
    assert page.locator("svg[data-chart='case-study-outcomes']").count() == 1

    # "Adapt this pilot", then the confirmation form.
    page.get_by_role("link", name="Adapt this pilot").click()
    page.get_by_role("heading", name=re.compile("Adapt .* at your hub")).wait_for()
    page.get_by_label("Adapt at").select_option(label="Zagreb AI Gigafactory")
    page.get_by_label("Note").fill("For Zagreb's service teams, in Croatian.")
    page.get_by_role("button", name="Yes, adapt this pilot").click()
    page.get_by_text("is now a proposed pilot of Zagreb AI Gigafactory").wait_for()
    assert page.get_by_test_id("pilot-status").inner_text() == "Proposed"
    page.get_by_test_id("adapted-from").filter(has_text="Lisbon AI Gigafactory").wait_for()
    adapted = Pilot.objects.get(adapted_from=pilot)
    assert adapted.hub == zagreb

    # Going back and confirming again creates nothing new.
    page.go_back()
    page.get_by_role("button", name="Yes, adapt this pilot").click()
    page.get_by_text("already adapts this pilot").wait_for()
    assert Pilot.objects.filter(adapted_from=pilot).count() == 1

    # A member of the Lisbon pilot's team sees the notification and follows it to the case study.
    lisbon_page = new_page()
    log_in(lisbon_page, teresa.email)
    lisbon_page.get_by_test_id("unread-count").wait_for()
    lisbon_page.get_by_role("link", name=re.compile("^Inbox")).click()
    item = (
        lisbon_page.get_by_test_id("inbox")
        .get_by_role("listitem")
        .filter(has_text="Zagreb AI Gigafactory is adapting your pilot")
    )
    item.get_by_text("For Zagreb's service teams, in Croatian.").wait_for()
    item.get_by_role("link", name=re.compile("Zagreb AI Gigafactory is adapting your pilot")).click()
    lisbon_page.get_by_test_id("adaptations").filter(has_text="Zagreb AI Gigafactory").wait_for()
    assert "Routing citizens' requests, adapted in Zagreb" in lisbon_page.get_by_test_id("adaptations").inner_text()
