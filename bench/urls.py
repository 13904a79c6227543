"""The portal's URLs plus ``/bench/baseline/<name>/``: a bare view that runs the SQL a page ran
(every statement, verbatim, as ``bench/run.py`` recorded it in ``.baseline_sql.json`` in the
same run) and returns the rows as JSON: the database work of the page with nothing on top."""

import json
from functools import cache
from pathlib import Path

from django.db import connection
from django.http import Http404, JsonResponse
from django.urls import path

from gigafactory.urls import urlpatterns as portal_urlpatterns

BASELINE_FILE = Path(__file__).resolve().parent / ".baseline_sql.json"


@cache
def _statements() -> dict[str, list[str]]:
    return json.loads(BASELINE_FILE.read_text()) if BASELINE_FILE.exists() else {}


def baseline(request, name):
    statements = _statements().get(name)
    if statements is None:
        raise Http404(name)
    results = []
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            if cursor.description is None:  # an UPDATE (an API key's last use, a session's expiry)
                results.append({"rowcount": cursor.rowcount})
                continue
            columns = [c.name for c in cursor.description]
            results.append([dict(zip(columns, row, strict=True)) for row in cursor.fetchall()])
    return JsonResponse({"results": results}, json_dumps_params={"default": str})


urlpatterns = [path("bench/baseline/<str:name>/", baseline), *portal_urlpatterns]
