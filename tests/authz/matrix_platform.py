"""Health checks and the API's own documentation: public by design."""

from .matrix import page

ROWS = [
    page("GET", "healthz", "y", note="process up, no data"),
    page("GET", "readyz", "y", note="database and broker reachable, no data"),
    page("GET", "schema", "y", note="the OpenAPI schema is public"),
    page("GET", "swagger-ui", "y"),
    page("GET", "redoc", "y"),
    page("GET", "redoc-bundle", "y", note="ReDoc's script, served by the app (no CDN)"),
]
