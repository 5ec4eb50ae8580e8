"""Signing secrets: made here, shown once, stored only encrypted.

A secret is ``whsec_`` + base64 of 32 random bytes (the Standard Webhooks form; the platform's
scheme keys its HMAC with the whole string). At rest it is sealed with AES-256-GCM under a key
derived from ``PAYOUTS_SECRET_KEY`` (HKDF, its own purpose label) and bound to the endpoint's id,
so a ciphertext copied onto another row does not open.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
SECRET_BYTES = 32
_VERSION = "v1"
_PURPOSE = b"payouts:webhook-endpoint-secret:v1"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Seals and opens endpoint secrets under the server's secret key."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
            secret_key.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, endpoint_id: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), endpoint_id.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, ciphertext: str, endpoint_id: str) -> str:
        version, _, payload = ciphertext.partition(":")
        if version != _VERSION:
            raise ValueError("unknown secret encoding")
        raw = base64.urlsafe_b64decode(payload.encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], endpoint_id.encode()).decode()
        except InvalidTag:
            raise ValueError("the secret does not open under this key") from None
