from __future__ import annotations

import pytest

from services.errors import DomainError
from services.infra.database import Database
from services.organizations import api_keys
from tests.conftest import make_org


def test_generate_key_has_mode_prefix_and_hash_not_plaintext() -> None:
    test_key = api_keys.generate_key(livemode=False)
    live_key = api_keys.generate_key(livemode=True)
    assert test_key.plaintext.startswith("ck_test_")
    assert live_key.plaintext.startswith("ck_live_")
    assert len(test_key.plaintext) == len("ck_test_") + api_keys.SECRET_LENGTH
    assert test_key.key_hash == api_keys.hash_key(test_key.plaintext)
    assert test_key.plaintext not in test_key.key_hash
    assert test_key.lookup_prefix == test_key.plaintext[8:20]


def test_generate_key_is_random() -> None:
    keys = {api_keys.generate_key(livemode=False).plaintext for _ in range(200)}
    assert len(keys) == 200


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "ck_test_",
        "ck_test_short",
        "sk_test_" + "a" * 40,
        "ck_prod_" + "a" * 40,
        "ck_test_" + "!" * 40,
    ],
)
def test_parse_key_rejects_malformed(candidate: str) -> None:
    assert api_keys.parse_key(candidate) is None


async def test_authenticate_finds_viewer_for_each_mode(db: Database) -> None:
    org = await make_org(db, "Keys Inc")
    async with db.read() as session:
        test_found = await api_keys.authenticate(session, org.test_key)
        live_found = await api_keys.authenticate(session, org.live_key)
    assert test_found is not None and live_found is not None
    assert test_found[0].organization_id == org.id and test_found[0].livemode is False
    assert live_found[0].livemode is True
    assert test_found[0].organization_name == "Keys Inc"


async def test_authenticate_rejects_key_with_right_prefix_but_wrong_secret(db: Database) -> None:
    org = await make_org(db)
    forged = org.test_key[:-4] + ("AAAA" if not org.test_key.endswith("AAAA") else "BBBB")
    async with db.read() as session:
        assert await api_keys.authenticate(session, forged) is None


async def test_authenticate_rejects_mode_swapped_key(db: Database) -> None:
    org = await make_org(db)
    swapped = "ck_live_" + org.test_key.removeprefix("ck_test_")
    async with db.read() as session:
        assert await api_keys.authenticate(session, swapped) is None


async def test_revoked_key_no_longer_authenticates(db: Database) -> None:
    org = await make_org(db)
    async with db.transaction() as session:
        revoked = await api_keys.revoke_key(session, org.test_key)
    assert revoked.revoked_at is not None
    async with db.read() as session:
        assert await api_keys.authenticate(session, org.test_key) is None
        assert await api_keys.authenticate(session, org.live_key) is not None


async def test_revoke_by_id_and_unknown_key(db: Database) -> None:
    org = await make_org(db)
    async with db.read() as session:
        found = await api_keys.authenticate(session, org.live_key)
    assert found is not None
    async with db.transaction() as session:
        await api_keys.revoke_key(session, found[0].api_key_id)
    async with db.read() as session:
        assert await api_keys.authenticate(session, org.live_key) is None
    with pytest.raises(DomainError) as error:
        async with db.transaction() as session:
            await api_keys.revoke_key(session, api_keys.generate_key(False).plaintext)
    assert error.value.code == "NOT_FOUND"


async def test_last_used_is_due_only_when_stale(db: Database) -> None:
    org = await make_org(db)
    async with db.read() as session:
        found = await api_keys.authenticate(session, org.test_key)
    assert found is not None and found[1] is True
    async with db.transaction() as session:
        await api_keys.touch_key(session, found[0].api_key_id)
    async with db.read() as session:
        again = await api_keys.authenticate(session, org.test_key)
    assert again is not None and again[1] is False


async def test_create_organization_validates_name_and_country(db: Database) -> None:
    for kwargs in ({"name": "  "}, {"name": "x" * 201}, {"name": "Ok", "country": "USA"}):
        with pytest.raises(DomainError) as error:
            async with db.transaction() as session:
                await api_keys.create_organization(session, **kwargs)
        assert error.value.code == "VALIDATION_ERROR"


async def test_roll_key_adds_working_key(db: Database) -> None:
    org = await make_org(db)
    async with db.transaction() as session:
        new_key = await api_keys.roll_key(session, org.id, livemode=False)
    async with db.read() as session:
        found = await api_keys.authenticate(session, new_key)
    assert found is not None and found[0].organization_id == org.id
