"""Sensitive values: what we keep of them (docs/payout-accounts.md, "Sensitive data").

Full account numbers, ID numbers, SSN digits, tax IDs and dates of birth are never stored: they
travel in memory to the provider only. A bank account is recognised again through a keyed
fingerprint (HMAC-SHA256 under ``Settings.secret_key``), which cannot be reversed or
brute-forced without the key, unlike a plain hash of a short number.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NOT_DIGITS = re.compile(r"\D")


def normalize_number(value: str) -> str:
    """Digits only: spaces and dashes typed by people do not make a different account."""
    return _NOT_DIGITS.sub("", value)


def keyed_fingerprint(secret_key: str, purpose: str, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` under a key derived for ``purpose`` (hex, 64 chars)."""
    purpose_key = hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()
    message = "\x1f".join(parts).encode()
    return hmac.new(purpose_key, message, hashlib.sha256).hexdigest()


def bank_account_fingerprint(
    secret_key: str, *, country: str, routing_number: str | None, account_number: str
) -> str:
    return keyed_fingerprint(
        secret_key,
        "bank-account:v1",
        country.upper(),
        normalize_number(routing_number or ""),
        normalize_number(account_number),
    )


def last4(account_number: str) -> str:
    return normalize_number(account_number)[-4:]
