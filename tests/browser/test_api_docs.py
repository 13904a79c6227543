"""The API documentation pages work under the portal's strict Content-Security-Policy."""

import pytest

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_the_operations_with_no_inline_code(new_page):
    page = new_page()
    response = page.goto("/api/docs/")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    # Swagger UI renders only the tags in view (a virtual list): scroll down to the usage tag
    # the way a reader would.
    usage = page.locator(".opblock-summary-path", has_text="/api/v1/usage-records/")
    for _ in range(100):
        if usage.count():
            break
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(100)
    usage.first.wait_for()
    # The stylesheet applied: Swagger UI's operation blocks are laid out, not bare text.
    assert page.locator(".opblock").first.evaluate("e => getComputedStyle(e).borderRadius") != "0px"


def test_redoc_renders_the_operations_with_no_inline_script_and_nothing_from_elsewhere(new_page):
    page = new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/api/redoc/")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "script-src 'self';" in policy
    page.get_by_role("heading", name="Report GPU usage in bulk").first.wait_for()
    outside = [url for url in requested if not url.startswith(page.url.split("/api/")[0])]
    assert outside == []
    # styled-components' <style> elements carry the response's nonce, so its styles apply.
    assert page.locator("style[data-styled]").count() >= 1
    assert page.locator("h1").first.evaluate("e => getComputedStyle(e).fontWeight") != ""
