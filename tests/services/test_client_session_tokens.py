"""Client-session tokens: what verifies, and every way a token is refused (never raising)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.client_sessions.revocations import REVOKED_EVENT, RevocationList
from services.client_sessions.service import ClientSessions, Minter
from services.client_sessions.tokens import ClientSessionSigner, MintedSession
from services.errors import DomainError
from services.infra.events import PublishedEvent

SECRET = "s" * 64
MINTER = Minter("org_abc", "Acme", "US", "usd", False, "key_1")


def mint(
    signer: ClientSessionSigner | None = None,
    *,
    livemode: bool = False,
    scopes: tuple[str, ...] = ("PAYOUTS_READ",),
    seconds: int = 900,
    now: float | None = None,
) -> MintedSession:
    return (signer or ClientSessionSigner(SECRET)).mint(
        organization_id="org_abc",
        organization_name="Acme",
        country="US",
        currency="usd",
        livemode=livemode,
        api_key_id="key_1",
        scopes=scopes,
        expires_in_seconds=seconds,
        now=now,
    )


def test_a_minted_token_verifies_to_its_session() -> None:
    signer = ClientSessionSigner(SECRET)
    minted = mint(signer, scopes=("PAYOUTS_READ", "ACCOUNT_WRITE"))
    assert minted.token.startswith("cs_test_")
    session = signer.verify(minted.token)
    assert session == minted.session
    assert session.scopes == frozenset({"PAYOUTS_READ", "ACCOUNT_WRITE"})
    assert session.organization_id == "org_abc" and session.livemode is False
    live = mint(signer, livemode=True)
    assert live.token.startswith("cs_live_")
    assert signer.verify(live.token) is not None


def test_an_expired_token_is_refused() -> None:
    signer = ClientSessionSigner(SECRET)
    old = mint(signer, seconds=10, now=time.time() - 11)
    assert signer.verify(old.token) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = mint(ClientSessionSigner("t" * 40))
    assert ClientSessionSigner(SECRET).verify(other.token) is None


def _claims(token: str) -> dict[str, object]:
    body = token.split("_", 2)[2]
    payload = body.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_token_is_refused() -> None:
    signer = ClientSessionSigner(SECRET)
    token = mint(signer).token
    header, payload, signature = token[len("cs_test_") :].split(".")
    claims = _claims(token)
    claims["scp"] = ["PAYOUTS_READ", "PAYOUTS_WRITE", "ACCOUNT_READ", "ACCOUNT_WRITE"]
    forged = f"cs_test_{header}.{_b64(claims)}.{signature}"
    assert signer.verify(forged) is None
    claims = _claims(token)
    claims["sub"] = "org_other"
    assert signer.verify(f"cs_test_{header}.{_b64(claims)}.{signature}") is None


def test_the_prefix_must_match_the_signed_mode() -> None:
    signer = ClientSessionSigner(SECRET)
    token = mint(signer, livemode=False).token
    assert signer.verify("cs_live_" + token[len("cs_test_") :]) is None


def test_unsigned_and_other_algorithms_are_refused() -> None:
    signer = ClientSessionSigner(SECRET)
    claims = _claims(mint(signer).token)
    unsigned = jwt.encode(claims, "", algorithm="none")
    assert signer.verify("cs_test_" + unsigned) is None
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512")
    assert signer.verify("cs_test_" + hs512) is None


def test_claims_missing_or_of_the_wrong_type_are_refused() -> None:
    signer = ClientSessionSigner(SECRET)
    good = _claims(mint(signer).token)
    for change in (
        {"scp": ["EVERYTHING"]},
        {"scp": "PAYOUTS_READ"},
        {"org": "Acme"},
        {"mnt": "soon"},
        {"mode": "live"},
        {"aud": "someone-else"},
    ):
        token = "cs_test_" + jwt.encode({**good, **change}, SECRET, algorithm="HS256")
        assert signer.verify(token) is None, change
    for missing in ("exp", "sub", "kid", "mnt", "scp"):
        claims = {k: v for k, v in good.items() if k != missing}
        token = "cs_test_" + jwt.encode(claims, SECRET, algorithm="HS256")
        assert signer.verify(token) is None, missing


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "cs_test_",
        "cs_test_abc",
        "cs_test_a.b.c",
        "cs_test_" + "A" * 5000,
        "cs_test_\x00.\x00.\x00",
        "cs_live_eyJ.eyJ.sig",
        "cs_test_é.é.é",
        "ck_test_" + "a" * 40,
    ],
)
def test_malformed_tokens_are_refused_without_raising(junk: str) -> None:
    assert ClientSessionSigner(SECRET).verify(junk) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ClientSessionSigner("short")


def test_minting_checks_scopes_and_lifetime() -> None:
    sessions = ClientSessions(ClientSessionSigner(SECRET))
    for scopes, seconds, field in (
        ([], 900, "scopes"),
        (["NOPE"], 900, "scopes"),
        (["PAYOUTS_READ"], 9, "expiresInSeconds"),
        (["PAYOUTS_READ"], 3601, "expiresInSeconds"),
    ):
        with pytest.raises(DomainError) as raised:
            sessions.mint(MINTER, scopes, seconds)
        assert raised.value.code == "VALIDATION_ERROR"
        assert raised.value.field == ["input", field]
    assert sessions.mint(MINTER, ["PAYOUTS_READ"], 10).session.scopes == {"PAYOUTS_READ"}
    assert sessions.mint(MINTER, ["PAYOUTS_READ"], 3600) is not None


def _revoked(org: str, livemode: bool, at: datetime) -> PublishedEvent:
    return PublishedEvent("evt_1", org, livemode, 1, REVOKED_EVENT, "organization", org, at)


def test_revocation_refuses_tokens_minted_before_it_only() -> None:
    sessions = ClientSessions(ClientSessionSigner(SECRET))
    before = sessions.mint(MINTER, ["PAYOUTS_READ"], 900)
    live = sessions.mint(
        Minter("org_abc", "Acme", "US", "usd", True, "key_2"), ["PAYOUTS_READ"], 900
    )
    other_org = sessions.mint(
        Minter("org_xyz", "Other", "US", "usd", False, "key_3"), ["PAYOUTS_READ"], 900
    )
    instant = datetime.now(UTC) + timedelta(milliseconds=5)
    sessions.revocations.observe([_revoked("org_abc", False, instant)])
    time.sleep(0.01)
    after = sessions.mint(MINTER, ["PAYOUTS_READ"], 900)
    assert sessions.check(before.token) is None
    assert sessions.check(after.token) is not None
    assert sessions.check(live.token) is not None  # the other mode is untouched
    assert sessions.check(other_org.token) is not None


def test_an_older_revocation_never_moves_the_instant_back() -> None:
    revocations = RevocationList()
    now = datetime.now(UTC)
    revocations.revoke("org_abc", False, now)
    revocations.revoke("org_abc", False, now - timedelta(hours=1))
    sessions = ClientSessions(ClientSessionSigner(SECRET), revocations)
    minted = mint(sessions.signer, now=now.timestamp() - 1)
    assert sessions.check(minted.token) is None


def test_a_remembered_token_still_expires_and_is_still_revocable() -> None:
    sessions = ClientSessions(ClientSessionSigner(SECRET))
    short = mint(sessions.signer, seconds=10, now=time.time() - 9)  # expires within 1 s
    assert sessions.check(short.token) is not None  # verified and remembered
    assert sessions.check(short.token) is not None  # from memory
    time.sleep(max(0.0, short.session.expires_at.timestamp() - time.time()) + 0.05)
    assert sessions.check(short.token) is None  # expiry is checked on every use
    long = mint(sessions.signer)
    assert sessions.check(long.token) is not None
    sessions.revocations.revoke("org_abc", False, datetime.now(UTC) + timedelta(seconds=1))
    assert sessions.check(long.token) is None
    assert sessions.check(_tamper_signature(long.token)) is None


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.client_sessions import service

    monkeypatch.setattr(service, "VERIFIED_CACHE_SIZE", 3)
    sessions = ClientSessions(ClientSessionSigner(SECRET))
    tokens = [mint(sessions.signer).token for _ in range(5)]
    for token in tokens:
        assert sessions.check(token) is not None
    assert len(sessions._verified) == 3
    assert all(sessions.check(token) is not None for token in tokens)  # evicted: verified again


def _tamper_signature(token: str) -> str:
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
