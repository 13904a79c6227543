"""``Idempotency-Key`` for API writes: a client that did not hear the answer sends the same
request again and gets the first answer, and nothing is done twice.

A POST, PUT, PATCH or DELETE under ``/api/`` that carries ``Idempotency-Key: <1 to 255 visible
ASCII characters>`` is claimed in ``IdempotentRequest`` before the view runs. A repeat of it by the same
caller (the same bearer key, or the same signed-in user):

- while the first is still running: 409, ``"code": "idempotency_in_progress"``;
- with a different method, path, query or body: 422, ``"code": "idempotency_key_reused"``;
- afterwards, within ``IDEMPOTENCY_TTL``: the stored status, headers and body again, with
  ``Idempotent-Replayed: true``.

Only definite answers are kept (2xx and 4xx, except 401 and 429, which say nothing about the
request itself). A 5xx or an exception releases the key, so the retry runs for real.
Anonymous requests are not tracked: they have nobody to replay to.
"""

import hashlib
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Visible ASCII, as UUIDs and random tokens are: what the schema documents, nothing a proxy could mangle.
KEY_PATTERN = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_KEPT = frozenset({401, 429})
REPLAYED_HEADERS = ("Content-Type", "Location", "Content-Disposition")


def _principal(request) -> str | None:
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization.startswith("Bearer "):
        return "key:" + hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method not in WRITE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        key = key.strip()
        if not KEY_PATTERN.fullmatch(key):
            return _error(
                400,
                "invalid_idempotency_key",
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (e.g. a UUID), without spaces.",
            )
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)

        fingerprint = _fingerprint(request)
        record, refusal = self._claim(principal, key, fingerprint)
        if refusal is not None:
            return refusal
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotentRequest.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT or response.streaming:
            IdempotentRequest.objects.filter(pk=record.pk).delete()
            return response
        IdempotentRequest.objects.filter(pk=record.pk).update(
            response_status=response.status_code,
            response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
            response_body=response.content,
        )
        return response

    def _claim(self, principal, key, fingerprint):
        """The claimed row, or the answer for a request whose key is already claimed."""
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    return IdempotentRequest.objects.create(principal=principal, key=key, fingerprint=fingerprint), None
            except IntegrityError:
                pass
            existing = IdempotentRequest.objects.filter(principal=principal, key=key).first()
            if existing is None:  # released in between: claim again
                continue
            if existing.created_at < timezone.now() - IDEMPOTENCY_TTL:
                existing.delete()  # expired: the key may be used afresh
                continue
            if existing.fingerprint != fingerprint:
                return None, _error(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was already used for a different request; use a new key for a new request.",
                )
            if existing.response_status is None:
                return None, _error(
                    409,
                    "idempotency_in_progress",
                    f"A request with this {HEADER} is still being processed; retry in a moment.",
                )
            return None, _replay(existing)
        return None, _error(409, "idempotency_in_progress", f"A request with this {HEADER} is being processed.")


def forget_expired(now=None) -> int:
    """Delete stored answers older than ``IDEMPOTENCY_TTL`` (daily, beat). Returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
