"""ReDoc, served so that it runs under the portal's Content-Security-Policy.

The sidecar's ``redoc.standalone.js`` is served with two changes made when it is first asked for:

- webpack's style nonce (``__webpack_nonce__``, which styled-components and the style loader put
  on every ``<style>`` they add) starts as the nonce of the ``<script>`` that loads the bundle,
  instead of being set only once ReDoc renders, after the first style elements exist; the page's
  policy allows styles with that nonce and nothing else inline;
- the "API docs by Redocly" logo comes from the app instead of cdn.redoc.ly.

If a new sidecar release no longer contains what is replaced, the view fails loudly (and the
browser test of the documentation pages with it) rather than serving a page the policy breaks.
"""

from functools import cache
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

BUNDLE = (
    Path(drf_spectacular_sidecar.__file__).parent / "static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
)
NONCE_FROM_SCRIPT = "r.nc=document.currentScript&&document.currentScript.nonce||void 0"


@cache
def patched_bundle() -> bytes:
    text = BUNDLE.read_text(encoding="utf-8")
    replacements = {
        "r.nc=void 0": NONCE_FROM_SCRIPT,
        "https://cdn.redoc.ly/redoc/logo-mini.svg": static("img/redoc-logo-mini.svg"),
    }
    for old, new in replacements.items():
        if text.count(old) != 1:
            raise RuntimeError(f"redoc.standalone.js changed: {old!r} is not in it exactly once")
        text = text.replace(old, new)
    return text.encode("utf-8")


@require_GET
@cache_control(max_age=3600, public=True)
def redoc_bundle(request):
    return HttpResponse(patched_bundle(), content_type="text/javascript; charset=utf-8")
