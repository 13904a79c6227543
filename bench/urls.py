"""The portal's URLs plus ``/bench/baseline/<name>/``: a bare view that runs a page's main SQL
(recorded by ``bench/run.py`` in ``.baseline_sql.json``) and returns its rows as JSON."""

import json
from functools import cache
from pathlib import Path

from django.db import connection
from django.http import Http404, JsonResponse
from django.urls import path

from gigafactory.urls import urlpatterns as portal_urlpatterns

BASELINE_FILE = Path(__file__).resolve().parent / ".baseline_sql.json"


@cache
def _statements() -> dict[str, str]:
    return json.loads(BASELINE_FILE.read_text()) if BASELINE_FILE.exists() else {}


def baseline(request, name):
    sql = _statements().get(name)
    if sql is None:
        raise Http404(name)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        columns = [c.name for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return JsonResponse({"rows": rows}, json_dumps_params={"default": str})


urlpatterns = [path("bench/baseline/<str:name>/", baseline), *portal_urlpatterns]
