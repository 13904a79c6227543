"""ORCID sign-in is wired through allauth and appears once its client id and secret are set."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_login_page_offers_orcid_only_when_configured(client, settings):
    page = client.get(reverse("account_login"))
    assert "ORCID" not in page.content.decode()

    settings.SOCIALACCOUNT_PROVIDERS = {
        "orcid": {
            "BASE_DOMAIN": "orcid.org",
            "MEMBER_API": False,
            "APPS": [{"client_id": "APP-TEST", "secret": "s3cret", "key": ""}],
        }
    }
    page = client.get(reverse("account_login"))
    html = page.content.decode()
    assert "ORCID" in html
    assert reverse("orcid_login") in html


@pytest.mark.django_db
def test_orcid_login_redirects_to_orcid_authorize(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "orcid": {
            "BASE_DOMAIN": "orcid.org",
            "MEMBER_API": False,
            "APPS": [{"client_id": "APP-TEST", "secret": "s3cret", "key": ""}],
        }
    }
    response = client.post(reverse("orcid_login"))
    assert response.status_code == 302
    assert response["Location"].startswith("https://orcid.org/oauth/authorize?")
    assert "client_id=APP-TEST" in response["Location"]
