"""A newcomer signs up, verifies, asks to join; staff approve; the member sees the hub."""

import re

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core import mail

from hubs.models import Membership, MembershipStatus, Role
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def totp_now(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


def log_in(page, email, password=PASSWORD, totp_secret=None):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    if totp_secret:
        page.locator("#id_code").fill(totp_now(totp_secret))
        page.get_by_role("button", name="Sign In").click()


def test_sign_up_verify_join_approved_by_staff_then_see_hub_dashboard(new_page):
    hub = HubFactory(name="Lisbon AI Gigafactory", slug="lisbon", city="Lisbon", country="PT")
    staff = verified_user(email="staff@lisbon.example.org", name="Rui Staff")
    MembershipFactory(user=staff, hub=hub, role=Role.STAFF)
    secret = enable_mfa(staff)

    # A newcomer signs up; the verification mail's link logs them in.
    page = new_page()
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.locator("#id_email").fill("newcomer@example.org")
    page.locator("#id_password1").fill("a long pass phrase 42")
    page.locator("#id_password2").fill("a long pass phrase 42")
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_text("Verify Your Email Address").wait_for()
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(link.replace("http://127.0.0.1:8000", ""))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()

    # Profile, then a request to join from the hub directory.
    page.get_by_role("link", name="Profile").first.click()
    page.get_by_label("Full name").fill("Nora Newcomer")
    page.get_by_label("ORCID iD").fill("0000-0002-1825-0097")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_text("Profile saved.").wait_for()

    page.goto("/hubs/")
    page.get_by_label("Country").select_option("PT")
    page.get_by_role("link", name="Lisbon AI Gigafactory").click()
    page.get_by_role("link", name="Ask to join").click()
    page.get_by_label("Motivation").fill("Reusable AI tools for Lisbon schools.")
    page.get_by_role("button", name="Send request").click()
    page.get_by_text("Your request to join Lisbon AI Gigafactory was sent").wait_for()
    assert page.get_by_test_id("membership-status").inner_text() == "Requested"

    # Staff log in with their second factor and approve the request on the members page.
    staff_page = new_page()
    log_in(staff_page, staff.email, totp_secret=secret)
    staff_page.goto("/staff/hubs/lisbon/members/?status=requested")
    row = staff_page.get_by_test_id("member-row").filter(has_text="Nora Newcomer")
    row.get_by_role("button", name="Approve").click()
    row.get_by_text("Active").wait_for()
    membership = Membership.objects.get(user__email="newcomer@example.org", hub=hub)
    assert membership.status == MembershipStatus.ACTIVE

    # The member sees the notification and the hub dashboard.
    page.goto("/dashboard/")
    assert page.get_by_test_id("unread-count").inner_text() == "1"
    page.get_by_role("link", name="Lisbon AI Gigafactory").first.click()
    page.get_by_role("heading", name="Lisbon AI Gigafactory").wait_for()
    assert "You are member of this hub." in page.content()
    assert page.get_by_role("cell", name="Nora Newcomer").is_visible()


def test_staff_without_mfa_is_sent_to_set_it_up_and_gets_in_once_it_is_on(new_page):
    hub = HubFactory(slug="zagreb", name="Zagreb AI Gigafactory", country="HR")
    staff = verified_user(email="nomfa@zagreb.example.org")
    MembershipFactory(user=staff, hub=hub, role=Role.STAFF)

    page = new_page()
    log_in(page, staff.email)
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()
    page.goto("/staff/hubs/zagreb/members/")
    page.get_by_text("Hub staff must turn on two-factor authentication").wait_for()
    # allauth asks for the password once more before a second factor can be added.
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Activate Authenticator App").wait_for()
    assert page.url.endswith("/accounts/2fa/totp/activate/")

    page.goto("/admin/")
    assert "/accounts/" in page.url
    assert "/admin/" not in page.url.split("?")[0]

    # Setting up the authenticator opens the staff pages.
    page.goto("/accounts/2fa/totp/activate/")
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("#id_code").fill(totp_now(secret))
    page.get_by_role("button", name="Activate").click()
    page.goto("/staff/hubs/zagreb/members/")
    page.get_by_role("heading", name="Members of Zagreb AI Gigafactory").wait_for()
