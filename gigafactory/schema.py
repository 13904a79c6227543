"""The OpenAPI description of what every API operation shares: the key authentication, the
``Idempotency-Key`` header of writes, JSON bodies, and the error responses the plumbing can give.

``AutoSchema`` (``DEFAULT_SCHEMA_CLASS``) adds to each operation the errors it can answer with,
so that a view documents only its own answers. It looks at the view as the request will meet it:

- 400 with a message per field: operations that take a body or query parameters, and writes
  (an ``Idempotency-Key`` that is not 1 to 255 visible ASCII characters);
- 401: every operation (a malformed, unknown or revoked key is refused everywhere, also on
  public reads), with ``WWW-Authenticate: Bearer``;
- 403: writes (read-only keys; a session without its CSRF token) and operations whose
  permissions go beyond "anyone";
- 404: operations with path parameters, and paginated lists (a page past the last);
- 409 and 422: writes (a transition the object's state refuses; an ``Idempotency-Key`` still
  running or reused for another request);
- 415: operations that take a body (one sent without a Content-Type the view can parse);
- 429: every throttled operation, with ``Retry-After``.

An optional query parameter may be empty: it is then not applied (``page`` excepted). Reads
open to everyone say so (``{}`` among their security requirements), whatever their
permission classes are called.

A response a view declares itself keeps its description; one declared with a description only
gets the shared body, one with a body of its own gets "its body or the shared one" (the
plumbing answers before the view does).
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions
from rest_framework.views import APIView

from .api import ApiKeyScopePermission
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import KEY_PATTERN, WRITE_METHODS


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "gigafactory.api.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "gf_<lookup>_<secret>"}


ERROR_SCHEMA = {
    "type": "object",
    "description": "What went wrong, for a person to read; `code` names the error for a program.",
    "properties": {
        "detail": {"type": "string", "example": "Not found."},
        "code": {
            "type": "string",
            "description": "e.g. `invalid_transition`, `idempotency_key_reused`, `idempotency_in_progress`",
            "example": "invalid_transition",
        },
    },
    "required": ["detail"],
}

VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "A list of messages per invalid field, keyed by the field's name; nested objects and lists "
        "of objects follow the shape of the input (a list has one entry per row, empty for a valid "
        "row). `non_field_errors` holds what concerns the request as a whole, `detail` a body that "
        "could not be read."
    ),
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
            {"type": "string"},
        ]
    },
    "example": {"title": ["This field is required."], "resource_rows": [{}, {"gpu_hours": ["Must be at least 1."]}]},
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a message per field; nothing was changed",
    "401": "No valid credentials: the API key is missing, malformed, unknown or revoked",
    "403": "Not allowed: the wrong kind of caller, not staff (or no two-factor authentication), a read-only "
    "key, or another hub's key",
    "404": "No such object, or not one you may see (e.g. another hub's); for a list, a page past the last",
    "409": "Not possible in the object's current state, or a request with the same Idempotency-Key is still running",
    "415": "Unsupported media type: send the body as `application/json` (or a form), with its Content-Type",
    "422": "This Idempotency-Key was already used for a different request",
    "429": "Too many requests for this key: retry after `Retry-After` seconds",
}

RESPONSE_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": "How to authenticate: `Bearer`",
            "required": True,
            "schema": {"type": "string", "example": "Bearer"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until the key may send requests again",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$", "example": "12"},
        }
    },
}

REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    }
}

IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: a repeat with the same key within 24 hours gets the first answer again "
        "(`Idempotent-Replayed: true`) and changes nothing."
    ),
    "schema": {
        "type": "string",
        "pattern": f"^{KEY_PATTERN.pattern}$",
        "example": "5f0c2a8e-8d7b-4d0e-9a51-3c1f0e2b7d44",
    },
}

# Permissions that let every caller through on a read: they cannot answer 403 to a GET.
OPEN_READ_PERMISSIONS = (permissions.AllowAny, ApiKeyScopePermission)


class AutoSchema(openapi.AutoSchema):
    def get_auth(self):
        """A read that lets everyone in says so (``{}``: no credentials needed), whatever its classes."""
        auths = super().get_auth()
        if auths and {} not in auths and self.method not in WRITE_METHODS and self._open_to_all():
            auths.append({})
        return auths

    def map_parsers(self):
        """The API speaks JSON: a view that keeps DRF's default parsers documents JSON bodies only
        (the form encodings are there for the browsable API). Upload views name their parsers."""
        owner = next(cls for cls in type(self.view).__mro__ if "parser_classes" in vars(cls))
        if owner is APIView:
            return ["application/json"]
        return super().map_parsers()

    def _open_to_all(self) -> bool:
        return all(isinstance(p, OPEN_READ_PERMISSIONS) for p in self.view.get_permissions())

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            # ``?sector=`` is "no sector filter", as an HTML filter form sends it; not ``page``.
            if parameter["in"] == "query" and not parameter.get("required") and parameter["name"] != "page":
                parameter["allowEmptyValue"] = True
        write = self.method in WRITE_METHODS
        if write:
            operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
            for code, response in operation["responses"].items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(REPLAYED_HEADER)
        responses = operation["responses"]
        for code in self._error_codes(operation, write):
            shared = self._error_ref(code)
            response = responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
            body = response.setdefault("content", {"application/json": {"schema": shared}}).get("application/json")
            if body is not None and body.get("schema") != shared:
                # The view's own error body, or the plumbing's (a bad Idempotency-Key, a body that
                # cannot be parsed, a message per field raised before the view's own checks).
                body["schema"] = {"anyOf": [body["schema"], shared]}
            if code in RESPONSE_HEADERS:
                response.setdefault("headers", {}).update(RESPONSE_HEADERS[code])
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation, write: bool) -> list[str]:
        parameters = operation.get("parameters", [])
        takes_input = "requestBody" in operation or any(p["in"] == "query" for p in parameters)
        codes = ["401"]
        if takes_input or write:
            codes.append("400")
        if write or not self._open_to_all():
            codes.append("403")
        if any(p["in"] == "path" for p in parameters) or any(p["name"] == "page" for p in parameters):
            codes.append("404")
        if write:
            codes += ["409", "422"]
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _error_ref(self, code: str) -> dict:
        name, schema = ("ValidationError", VALIDATION_ERROR_SCHEMA) if code == "400" else ("Error", ERROR_SCHEMA)
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref
