"""Browser pages, driven through the test client as a visitor, a member and hub staff."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from gigafactory.models import AuditEvent
from hubs import services
from hubs.models import Membership, MembershipStatus, Notification, Profile, Role
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory, OrganisationFactory

S = MembershipStatus
HTMX = {"HX-Request": "true"}


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def stat(html, label):
    match = re.search(r'<span class="value">(\d+)</span><span class="label">' + label + "</span>", html)
    assert match, f"no '{label}' statistic on the page"
    return int(match.group(1))


@pytest.fixture
def requested(hub):
    return MembershipFactory(hub=hub, status=S.REQUESTED, user=verified_user(name="Rita Requester"))


# --- Landing and directory ----------------------------------------------------------------


def test_landing_counts_the_network_from_the_database(client, hub, other_hub, member, staff):
    HubFactory(slug="zagreb", country="HR")
    HubFactory(name="Secret Hub", slug="secret", country="PL", public=False)
    MembershipFactory(hub=other_hub, status=S.REQUESTED)
    MembershipFactory(hub=other_hub, user=member)  # the same person in two hubs counts once
    OrganisationFactory.create_batch(4)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert stat(html, "hubs") == 3
    assert stat(html, "countries") == 3
    assert stat(html, "active members") == 2
    assert stat(html, "organisations") == 4
    assert stat(html, "open calls") == 0
    assert "Lyon AI Gigafactory" in html
    assert "Secret Hub" not in html


def test_landing_for_an_empty_network(client, db):
    html = client.get("/").content.decode()
    assert stat(html, "hubs") == 0
    assert "No hubs yet" in html


@pytest.fixture
def directory(db):
    HubFactory(name="Lyon", slug="lyon", country="FR", focus_sectors=["health", "climate"])
    HubFactory(name="Helsinki", slug="helsinki", country="FI", focus_sectors=["energy"])
    HubFactory(name="Zaragoza", slug="zaragoza", country="ES", focus_sectors=["agriculture"])
    HubFactory(name="Secret", slug="secret", country="FR", public=False)


def hub_names(response):
    return [h.name for h in response.context["page"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Helsinki", "Lyon", "Zaragoza"]),
        ("?country=FR", ["Lyon"]),
        ("?sector=energy", ["Helsinki"]),
        ("?sector=agriculture&country=ES", ["Zaragoza"]),
        ("?sector=energy&country=ES", []),
        ("?q=zara", ["Zaragoza"]),
    ],
)
def test_directory_filters_by_country_and_sector(client, directory, query, expected):
    response = client.get("/hubs/" + query)
    assert response.status_code == 200
    assert hub_names(response) == expected
    if not expected:
        assert "No hub matches these filters" in response.content.decode()


def test_directory_marks_the_chosen_filters(client, directory):
    html = client.get("/hubs/?country=FR&sector=health").content.decode()
    assert '<option value="FR" selected>' in html
    assert '<option value="health" selected>' in html


def test_directory_htmx_request_gets_only_the_results(client, directory):
    response = client.get("/hubs/?country=FI", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html
    assert "<form" not in html
    assert "Helsinki" in html
    assert "Lyon" not in html
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("rows", [3, 30])
def test_directory_query_count_does_not_grow(client, db, rows, django_assert_num_queries):
    for i in range(rows):
        hub = HubFactory()
        MembershipFactory.create_batch(i % 3, hub=hub)
    with django_assert_num_queries(2):  # count, hubs with member counts
        response = client.get("/hubs/")
    assert response.context["page"].paginator.count == rows


def test_directory_is_paginated(client, db):
    HubFactory.create_batch(13)
    first = client.get("/hubs/")
    assert len(first.context["page"]) == 12
    assert "Page 1 of 2" in first.content.decode()
    assert len(client.get("/hubs/?page=2").context["page"]) == 1


def test_hub_detail_page(client, hub, member):
    MembershipFactory(hub=hub, status=S.REQUESTED)
    response = client.get("/hubs/lyon/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lyon AI Gigafactory" in html
    assert "1 active member" in html
    assert "contact@lyon.example.org" in html
    assert "Sign up or log in to ask to join" in html


def test_private_hub_detail_is_404_for_visitors(client, db):
    HubFactory(slug="hidden", public=False)
    assert client.get("/hubs/hidden/").status_code == 404
    assert client.get("/hubs/nowhere/").status_code == 404


# --- Joining ------------------------------------------------------------------------------


def test_join_flow(client, hub, staff, django_capture_on_commit_callbacks):
    visitor = verified_user(name="Vera Visitor")
    client.force_login(visitor)
    detail = client.get("/hubs/lyon/").content.decode()
    assert 'href="/hubs/lyon/join/"' in detail
    form = client.get("/hubs/lyon/join/")
    assert form.status_code == 200
    assert 'name="motivation"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/hubs/lyon/join/", {"motivation": "Federated learning on hospital data"}, follow=True)
    assert response.redirect_chain == [(reverse("hubs:memberships"), 302)]
    assert "Your request to join Lyon AI Gigafactory was sent" in response.content.decode()
    membership = Membership.objects.get(user=visitor, hub=hub)
    assert membership.status == S.REQUESTED
    assert membership.motivation == "Federated learning on hospital data"
    assert Notification.objects.filter(user=staff, kind="membership.requested").exists()
    assert 'data-testid="membership-status">Requested<' in response.content.decode()


def test_join_needs_a_motivation(client, hub):
    client.force_login(verified_user())
    response = client.post("/hubs/lyon/join/", {"motivation": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Membership.objects.exists()


def test_join_twice_shows_a_clear_error(client, hub, requested):
    client.force_login(requested.user)
    response = client.post("/hubs/lyon/join/", {"motivation": "again"}, follow=True)
    assert "You have already asked to join Lyon AI Gigafactory" in response.content.decode()
    requested.refresh_from_db()
    assert requested.motivation != "again"


def test_join_needs_login(client, hub):
    response = client.get("/hubs/lyon/join/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Member pages -------------------------------------------------------------------------


def test_memberships_page_lists_requests_and_lets_a_member_leave(client, member, other_hub):
    MembershipFactory(user=member, hub=other_hub, status=S.REQUESTED)
    client.force_login(member)
    html = client.get("/account/memberships/").content.decode()
    assert "Helsinki AI Gigafactory" in html
    assert "Lyon AI Gigafactory" in html
    assert "Withdraw" in html
    membership = member.memberships.get(hub__slug="lyon")
    response = client.post(f"/account/memberships/{membership.pk}/leave/", follow=True)
    assert "You left Lyon AI Gigafactory." in response.content.decode()
    membership.refresh_from_db()
    assert membership.status == S.LEFT


def test_cannot_leave_someone_elses_membership_page(client, member, staff):
    client.force_login(member)
    theirs = staff.memberships.get()
    assert client.post(f"/account/memberships/{theirs.pk}/leave/").status_code == 404


def test_hub_dashboard_for_members_only(client, hub, member, requested):
    client.force_login(member)
    response = client.get("/hubs/lyon/dashboard/")
    assert response.status_code == 200
    assert "You are member of this hub." in response.content.decode()
    client.force_login(requested.user)
    assert client.get("/hubs/lyon/dashboard/").status_code == 404
    client.force_login(verified_user())
    assert client.get("/hubs/lyon/dashboard/").status_code == 404


def test_hub_dashboard_lists_active_members_only(client, hub, member, requested):
    client.force_login(member)
    html = client.get("/hubs/lyon/dashboard/").content.decode()
    assert "Marie Member" in html
    assert "Rita Requester" not in html


@pytest.mark.parametrize("rows", [3, 30])
def test_hub_dashboard_query_count_does_not_grow(client, hub, member, rows, django_assert_num_queries):
    for i, m in enumerate(MembershipFactory.create_batch(rows, hub=hub)):
        if i % 2:
            services.profile_update(user=m.user, organisation=OrganisationFactory())
    client.force_login(member)
    # session, user, roles, hub, count, members with profiles, unread count
    with django_assert_num_queries(7):
        response = client.get("/hubs/lyon/dashboard/")
    assert response.context["page"].paginator.count == rows + 1


def test_dashboard_shows_hubs_and_invitations(client, member, hub, other_hub, staff):
    services.invitation_create(hub=hub, email="newcomer@example.org", acting_user=staff)
    client.force_login(member)
    html = client.get("/dashboard/").content.decode()
    assert 'href="/hubs/lyon/dashboard/"' in html
    newcomer = verified_user(email="newcomer@example.org")
    client.force_login(newcomer)
    assert "Lyon AI Gigafactory invites you as member" in client.get("/dashboard/").content.decode()


# --- Profile ------------------------------------------------------------------------------


def test_profile_form_saves(client, member):
    org = OrganisationFactory(name="Inria")
    client.force_login(member)
    response = client.post(
        "/account/profile/",
        {
            "name": "Marie Curie",
            "orcid": "0000-0002-1825-0097",
            "organisation": org.pk,
            "affiliation": "Radiology",
            "country": "FR",
            "expertise": "Imaging",
            "email_notifications": "on",
        },
        follow=True,
    )
    assert "Profile saved." in response.content.decode()
    member.refresh_from_db()
    assert member.name == "Marie Curie"
    assert member.profile.orcid == "0000-0002-1825-0097"
    assert member.profile.organisation == org
    assert member.profile.email_notifications is True
    assert 'value="0000-0002-1825-0097"' in client.get("/account/profile/").content.decode()


def test_profile_form_shows_errors_per_field_and_saves_nothing(client, member):
    client.force_login(member)
    response = client.post("/account/profile/", {"name": "", "orcid": "0000-0002", "country": "XX"})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "orcid", "country"}
    html = response.content.decode()
    assert "Enter an ORCID iD like 0000-0002-1825-0097." in html
    member.refresh_from_db()
    assert member.name == "Marie Member"
    assert not AuditEvent.objects.filter(action="profile.updated").exists()


def test_orcid_taken_by_someone_else_is_a_field_error(client, member, staff):
    services.profile_update(user=staff, orcid="0000-0002-1825-0097")
    client.force_login(member)
    response = client.post("/account/profile/", {"name": "Marie", "orcid": "0000-0002-1825-0097", "country": ""})
    assert response.status_code == 200
    assert response.context["form"].errors == {"orcid": ["This ORCID iD is already linked to another account."]}
    assert not Profile.objects.filter(user=member).exclude(orcid="").exists()


# --- Inbox --------------------------------------------------------------------------------


def _notes(user, count):
    for i in range(count):
        services.notify(users=[user], kind="test", title=f"Note {i}", url="/hubs/", dedupe_key=f"t:{i}")


def test_inbox_lists_notifications_and_shows_the_unread_count(client, member):
    _notes(member, 3)
    client.force_login(member)
    html = client.get("/inbox/").content.decode()
    assert "Note 0" in html
    assert "Note 2" in html
    assert '<span class="badge" data-testid="unread-count">3</span>' in html


def test_inbox_mark_one_read_with_htmx_and_all_read(client, member):
    _notes(member, 3)
    first = member.notifications.get(title="Note 0")
    client.force_login(member)
    response = client.post(f"/inbox/{first.pk}/read/", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<li class="card notification" id="notification-{first.pk}"')
    assert "Mark read" not in html
    first.refresh_from_db()
    assert first.read_at is not None
    assert member.notifications.filter(read_at__isnull=True).count() == 2

    response = client.post("/inbox/read/", follow=True)
    assert response.redirect_chain == [("/inbox/", 302)]
    assert not member.notifications.filter(read_at__isnull=True).exists()
    assert 'data-testid="unread-count"' not in response.content.decode()


def test_cannot_mark_someone_elses_notification(client, member, staff):
    _notes(staff, 1)
    theirs = staff.notifications.get()
    client.force_login(member)
    assert client.post(f"/inbox/{theirs.pk}/read/", headers=HTMX).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("rows", [3, 30])
def test_inbox_query_count_does_not_grow(client, member, rows, django_assert_num_queries):
    _notes(member, rows)
    client.force_login(member)
    with django_assert_num_queries(6):  # session, user, count, unread count, roles (navigation), notifications
        response = client.get("/inbox/")
    assert response.context["page"].paginator.count == rows


# --- Staff: manage members ----------------------------------------------------------------


def test_manage_page_lists_requests(client, staff, requested, member):
    client.force_login(staff)
    response = client.get("/staff/hubs/lyon/members/?status=requested")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 request waiting for a decision." in html
    assert "Rita Requester" in html
    assert "Marie Member" not in html
    assert f'action="/staff/memberships/{requested.pk}/approve/"' in html


def test_staff_approve_in_the_browser(client, staff, requested, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/memberships/{requested.pk}/approve/", {"note": "Welcome"}, follow=True)
    assert response.redirect_chain == [("/staff/hubs/lyon/members/", 302)]
    assert "Rita Requester approved." in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == S.ACTIVE
    assert requested.decision_note == "Welcome"
    assert requested.user.notifications.filter(kind="membership.approved").exists()


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/staff/hubs/lyon/members/?status=requested", "/staff/hubs/lyon/members/?status=requested"),
        ("https://evil.example/phish", "/staff/hubs/lyon/members/"),
        ("//evil.example/phish", "/staff/hubs/lyon/members/"),
    ],
)
def test_a_decision_goes_back_only_to_a_page_of_the_site(client, staff, requested, next_url, lands_on):
    # Regression: "next" was followed wherever it pointed (an open redirect).
    client.force_login(staff)
    response = client.post(f"/staff/memberships/{requested.pk}/approve/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == lands_on


def test_staff_reject_with_htmx_gets_the_row_back(client, staff, requested):
    client.force_login(staff)
    response = client.post(f"/staff/memberships/{requested.pk}/reject/", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="membership-{requested.pk}"')
    assert "<html" not in html
    assert '<span class="status status-rejected">Rejected</span>' in html
    assert "/approve/" not in html
    requested.refresh_from_db()
    assert requested.status == S.REJECTED


def test_staff_approve_with_htmx_shows_role_picker(client, staff, requested):
    client.force_login(staff)
    html = client.post(f"/staff/memberships/{requested.pk}/approve/", headers=HTMX).content.decode()
    assert '<span class="status status-active">Active</span>' in html
    assert f'action="/staff/memberships/{requested.pk}/role/"' in html
    assert '<option value="admin"' not in html  # staff cannot make admins


def test_refused_transition_shows_a_message(client, staff, member):
    client.force_login(staff)
    membership = member.memberships.get()
    response = client.post(f"/staff/memberships/{membership.pk}/approve/", follow=True)
    assert "Cannot approve" in response.content.decode()
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE


def test_unknown_action_is_refused(client, staff, requested):
    client.force_login(staff)
    assert client.post(f"/staff/memberships/{requested.pk}/delete/").status_code == 403


def test_staff_change_role_in_the_browser(client, staff, member):
    membership = member.memberships.get()
    client.force_login(staff)
    response = client.post(f"/staff/memberships/{membership.pk}/role/", {"role": "reviewer"}, follow=True)
    assert "Marie Member is now Reviewer." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER


def test_staff_of_another_hub_gets_404(client, other_staff, requested):
    client.force_login(other_staff)
    assert client.get("/staff/hubs/lyon/members/").status_code == 404
    assert client.post(f"/staff/memberships/{requested.pk}/approve/").status_code == 404
    assert client.post(f"/staff/memberships/{requested.pk}/role/", {"role": "staff"}).status_code == 404
    requested.refresh_from_db()
    assert requested.status == S.REQUESTED


def test_members_get_404_on_staff_pages(client, member, requested):
    client.force_login(member)
    assert client.get("/staff/hubs/lyon/members/").status_code == 404
    assert client.post(f"/staff/memberships/{requested.pk}/approve/").status_code == 404


@pytest.fixture
def staff_without_mfa(hub):
    user = verified_user(name="Nina No-MFA")
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    user.is_staff = True
    user.save()
    return user


@pytest.mark.parametrize("path", ["/staff/hubs/lyon/members/", "/admin/", "/admin/hubs/membership/"])
def test_staff_without_mfa_are_sent_to_set_it_up(client, staff_without_mfa, path):
    client.force_login(staff_without_mfa)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert "two-factor authentication" in messages_of(response)[0]


def test_staff_without_mfa_cannot_decide_by_post(client, staff_without_mfa, requested):
    client.force_login(staff_without_mfa)
    response = client.post(f"/staff/memberships/{requested.pk}/approve/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    requested.refresh_from_db()
    assert requested.status == S.REQUESTED


def test_members_without_mfa_use_member_pages(client, member):
    client.force_login(member)
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.parametrize("rows", [3, 30])
def test_manage_query_count_does_not_grow(client, staff, hub, rows, staff_client, django_assert_num_queries):
    for i in range(rows):
        m = MembershipFactory(hub=hub, status=[S.REQUESTED, S.ACTIVE, S.SUSPENDED][i % 3])
        if i % 2:
            services.profile_update(user=m.user, organisation=OrganisationFactory())
    services.invitation_create(hub=hub, email="a@example.org", acting_user=staff)
    services.invitation_create(hub=hub, email="b@example.org", acting_user=staff)
    # session, user, MFA check, roles, hub, count, members, invitations, pending count, unread count
    with django_assert_num_queries(10):
        response = staff_client.get("/staff/hubs/lyon/members/")
    assert response.context["page"].paginator.count == rows + 1


def test_manage_has_a_link_from_the_hub_page_for_staff(client, staff):
    client.force_login(staff)
    assert 'href="/staff/hubs/lyon/members/"' in client.get("/hubs/lyon/").content.decode()


# --- Everyone -----------------------------------------------------------------------------


def test_pages_need_login(client, db):
    for path in ["/dashboard/", "/account/profile/", "/account/memberships/", "/inbox/", "/account/api-keys/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("account_login"))


def test_unknown_page_is_a_friendly_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404


def test_staff_logging_in_without_mfa_can_set_it_up(client, staff_without_mfa):
    response = client.post(
        "/accounts/login/", {"login": staff_without_mfa.email, "password": "correct horse battery"}, follow=True
    )
    assert response.wsgi_request.user == staff_without_mfa
    sent = client.get("/staff/hubs/lyon/members/")
    assert sent["Location"] == reverse("mfa_activate_totp")
    # allauth asks for the password again before a security change, then shows the set-up form
    confirm = client.get(sent["Location"], follow=True)
    assert confirm.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert "Hub staff must turn on two-factor authentication" in confirm.content.decode()
    setup = client.post(confirm.redirect_chain[-1][0], {"password": "correct horse battery"}, follow=True)
    assert setup.redirect_chain[-1][0] == reverse("mfa_activate_totp")
    assert setup.status_code == 200
    assert 'name="code"' in setup.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_memberships_and_dashboard_query_counts_do_not_grow(client, member, rows, django_assert_num_queries):
    for i, other in enumerate(HubFactory.create_batch(rows)):
        MembershipFactory(user=member, hub=other, status=[S.ACTIVE, S.REQUESTED, S.REJECTED][i % 3])
    _notes(member, rows)
    client.force_login(member)
    with django_assert_num_queries(5):  # session, user, memberships with hubs, unread count, roles (navigation)
        response = client.get("/account/memberships/")
    assert len(response.context["memberships"]) == rows + 1
    # session, user, memberships with hubs, invitations, latest notifications, profile, unread count, roles
    with django_assert_num_queries(8):
        client.get("/dashboard/")
