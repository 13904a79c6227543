"""Signing secrets: generated, encrypted at rest, and the HMAC-SHA256 signature of a delivery.

The secret must be recoverable to sign each request, so it is stored encrypted (Fernet, with a
key derived from ``SECRET_KEY``), never hashed, and never logged. Rotating ``SECRET_KEY``
makes stored secrets unreadable: rotate every endpoint's secret afterwards.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"gigafactory.webhooks.secret:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The endpoint's secret cannot be decrypted (was SECRET_KEY changed?).") from exc


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "{timestamp}.{body}">``, the value of ``X-Gigafactory-Signature``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"
