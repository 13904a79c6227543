"""The authorization matrix: every page and API operation x every role x an object of hub A and
of hub B -> allowed or denied, one request per case.

One test per row (``test_access[POST hubs:join]``) sends every case of the row, each in a
savepoint of its own, and reports every mismatch at once; the world is built once per module.

How to add a row (a new URL or API operation fails ``test_every_endpoint_has_a_row`` until you do):

1. Find the app's module, ``tests/authz/matrix_<app>.py`` (create it and add it to ``MODULES``
   in ``rows.py`` for a new app). Its ``ROWS`` list holds ``page(...)`` rows for browser URLs
   and ``api(...)`` rows for API operations (one per HTTP method in the OpenAPI schema).
2. Name the URL as ``reverse()`` takes it; give ``args=lambda w, s: {"pk": s.thing.pk}`` to
   address the object of hub ``s`` (``w.a`` is hub A's side of the world, ``w.b`` hub B's).
   If the object does not exist yet, add it to the app's builder in ``objects*.py``
   (``@builds def my_objects(world, side): side.thing = ...``).
3. Say, per role, what happens with the hub-A object and with the hub-B object, as two letters:
   ``y`` allowed, ``n`` denied, ``h`` listed without that object (``marker=`` names the text
   that shows it), ``-`` not applicable. Start from a shorthand in ``matrix.py``
   (``STAFF_OF_HUB``, ``OWNER_AND_STAFF``, ``PUBLISHED``, ``listing(...)``, ...) and override
   roles by keyword. Hub B is private: what anyone may see of hub A, only B's members see of B.
4. For POST/PUT/PATCH/DELETE give a realistic ``data=``; "allowed" then also accepts a 400 or
   409 (authorized, bad input or wrong state); "denied" never accepts a 2xx.
5. Uploads: give ``data`` as a callable returning fresh ``SimpleUploadedFile`` objects; a row
   whose data holds a file is sent as multipart (pages and API alike).
6. Run ``pytest tests/authz -k '<url name>'``.

URLs left out on purpose are in ``EXCLUDED_PREFIXES`` (with the reason); an app whose rows are
not written yet goes in ``INCOMPLETE`` in ``rows.py`` with a comment.
"""

import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.http import urlencode
from drf_spectacular.generators import SchemaGenerator

from .rows import INCOMPLETE, MODULES, ROWS
from .world import OBJECT_MODULES, ROLES

EXCLUDED_PREFIXES = {
    # Django admin internals: the admin has its own permission system; a few changelists are
    # rows (hub scoping) in matrix_admin.py, matched by name before this prefix applies.
    "admin/": "Django admin internals (changelists checked for hub scoping in matrix_admin.py)",
    # django-allauth's sign-in, sign-up, e-mail, MFA and password pages: public or own-account
    # by construction, tested by allauth itself and by tests/hubs/test_account.py.
    "accounts/": "django-allauth account pages",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_PATHS = ("/accounts/login/", "/admin/login/", "/accounts/2fa/")


def _walk(resolver, prefix="", namespace=None):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or prefix + str(pattern.pattern)
            yield prefix + str(pattern.pattern), f"{namespace}:{name}" if namespace and pattern.name else name


def enumerated_urls() -> dict[str, str]:
    """URL name -> route, for every URL the site answers except the excluded ones."""
    row_names = {row.name for row in ROWS}
    urls = {}
    for route, name in _walk(get_resolver()):
        if name in row_names or not route.startswith(tuple(EXCLUDED_PREFIXES)):
            urls[name] = route
    return urls


def schema_operations() -> set[tuple[str, str]]:
    """(METHOD, URL name) for every operation in the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = set()
    for path, item in schema["paths"].items():
        # "1" fits every converter the URLconf uses (int, slug, str).
        name = resolve(re.sub(r"\{[^}]+\}", "1", path)).url_name
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                ops.add((method.upper(), name))
    return ops


def test_every_endpoint_has_a_row():
    urls = enumerated_urls()
    covered = {row.name for row in ROWS} | set(INCOMPLETE)
    missing = sorted(f"{name}  ({route})" for name, route in urls.items() if name not in covered)
    assert not missing, "URLs without a row in tests/authz/matrix_*.py:\n  " + "\n  ".join(missing)
    stale = sorted({row.name for row in ROWS} - set(urls))
    assert not stale, f"rows for URLs that no longer exist: {stale}"


def test_every_api_operation_has_a_row():
    ops = schema_operations()
    rows = {row.key for row in ROWS if row.api}
    incomplete = {op for op in ops if op[1] in INCOMPLETE}
    missing = sorted(ops - rows - incomplete)
    assert not missing, f"API operations without a row: {missing}"
    assert not sorted(rows - ops), f"API rows for operations not in the schema: {sorted(rows - ops)}"


def test_nothing_is_left_incomplete():
    """``INCOMPLETE`` lets a row be written later while working; it must not reach CI non-empty."""
    assert not INCOMPLETE, f"URLs without rows yet: {INCOMPLETE}"


def test_every_module_is_gathered():
    """A new ``matrix_<app>.py`` or ``objects_<app>.py`` that is not listed would be skipped silently."""
    here = Path(__file__).parent
    assert sorted(p.stem for p in here.glob("matrix_*.py")) == sorted(MODULES)
    assert sorted(p.stem for p in here.glob("objects*.py")) == sorted(OBJECT_MODULES)


def test_rows_are_unique():
    seen = {}
    for row in ROWS:
        ident = (row.key, row.query, row.variant)
        assert ident not in seen, f"two rows for {ident}: tell them apart with variant="
        seen[ident] = row


def test_rows_are_well_formed():
    """Two letters for a row run per hub, one for a row without a hub's object."""
    for row in ROWS:
        width = 2 if row.per_side else 1
        wrong = {role: e for role, e in row.expect.items() if len(e) != width}
        assert not wrong, f"{row.method} {row.name}: expectations need {width} letter(s), got {wrong}"
        assert all(set(e) <= set("ynh-") for e in row.expect.values()), f"{row.key}: letters are y, n, h, -"
        assert "h" not in "".join(row.expect.values()) or row.marker, f"{row.key}: 'h' needs a marker"


def _cases(row):
    """(role, side, expected letter) for every case of ``row``."""
    for role in ROLES:
        for index, side in enumerate(("a", "b") if row.per_side else ("a",)):
            if row.expect[role][index] != "-":
                yield role, side, row.expect[role][index]


def outcome(row, response, world, side) -> str:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if status == 405:
        return "405 (the row names a method this URL does not take)"
    if status in (401, 403, 404):
        return "n"
    if status in (301, 302, 303) and response["Location"].split("?")[0].endswith(LOGIN_PATHS):
        return "n"
    if 400 <= status < 500 and not (row.method in UNSAFE and status in (400, 409)):
        return f"unexpected {status}"
    if row.effect is not None:
        # The write is what counts: a view that answers 2xx/3xx (or 400) to a foreign object
        # and leaves it alone has refused, one that changed it has allowed, whatever it says.
        return "y" if row.effect(world, world.side(side)) else "n"
    if row.marker is not None and row.method == "GET":
        text = row.marker(world, world.side(side))
        return "y" if text in _text(response) else "h"
    return "y"


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def _has_file(data) -> bool:
    return any(hasattr(value, "read") for value in (data or {}).values())


def request(world, row, role, side):
    """Send ``row``'s request as ``role`` about ``side``'s object; returns (url, response)."""
    client, headers = world.client(role)
    obj_side = world.side(side)
    url = reverse(row.name, kwargs=row.args(world, obj_side) if row.args else None)
    if row.query:
        url += "?" + row.query
    data = row.data(world, obj_side) if callable(row.data) else row.data
    if row.api:
        headers.setdefault("HTTP_ACCEPT", "application/json")
    if row.method == "GET":
        return url, client.get(url, **headers)
    if _has_file(data):  # uploads: multipart, as a browser or an HTTP client sends them
        return url, client.generic(row.method, url, *_multipart(data), **headers)
    if row.api:
        return url, client.generic(row.method, url, json.dumps(data or {}), "application/json", **headers)
    body = urlencode(data or {}, doseq=True)
    return url, client.generic(row.method, url, body, "application/x-www-form-urlencoded", **headers)


def _multipart(data):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return encode_multipart(BOUNDARY, data), MULTIPART_CONTENT


WORDS = {"y": "allowed", "n": "denied", "h": "answered without the object"}


def _row_id(row) -> str:
    query = f"?{row.query}" if row.query else ""
    variant = f" ({row.variant})" if row.variant else ""
    return f"{row.method} {row.name}{query}{variant}"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_access(world, db, row):
    """Every role and both hubs' objects for one row; each case in a savepoint of its own, so a
    write that succeeds cannot change what the next case sees. All mismatches are reported."""
    failures = []
    for role, side, expected in _cases(row):
        cache.clear()  # rate limits and cached figures: each case starts as the first request
        atomics = TestCase._enter_atomics()
        try:
            url, response = request(world, row, role, side)
            got = outcome(row, response, world, side)
        finally:
            TestCase._rollback_atomics(atomics)
        if got != expected:
            location = f", Location {response['Location']}" if response.has_header("Location") else ""
            failures.append(
                f"{role} {row.method} {url}: expected {WORDS.get(expected, expected)}, "
                f"got {WORDS.get(got, got)} (HTTP {response.status_code}{location})"
            )
    assert not failures, "\n".join(failures) + (f"\n({row.note})" if row.note else "")
