"""What a token may do within its role: a manager's scopes, a client's, and the tokens intake
issues for API keys, trusted with intake's key for exactly those tokens."""

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from bpo_common.auth import (
    MANAGE_KEYS,
    ApiKeyTrust,
    KeyScope,
    Principal,
    Role,
    Scope,
    TokenVerifier,
    algorithm_of,
    ensure_key_pair,
    issue_token,
    scope_refusal,
    the_contractor_or_a_manager,
)
from bpo_common.errors import NotFound, Unauthorized
from bpo_common.ids import new_id

CLIENT = UUID("01890a5d-ac96-774b-bcce-b302099a8057")


class Keys:
    """The identity provider's key pair and intake's, as PEM text."""

    def __init__(self, root: Path) -> None:
        idp_private, idp_public = ensure_key_pair(root / "idp")
        intake_private, intake_public = ensure_key_pair(root / "intake")
        self.idp, self.idp_public = idp_private.read_text(), idp_public.read_text()
        self.intake, self.intake_public = intake_private.read_text(), intake_public.read_text()

    def verifier(self, *, manager_unscoped: bool = False) -> TokenVerifier:
        return TokenVerifier(
            issuer="idp",
            audience="bpo",
            algorithm="RS256",
            public_key=self.idp_public,
            api_keys=ApiKeyTrust("bpo-api-keys", self.intake_public),
            manager_unscoped=manager_unscoped,
        )

    def api_key_token(self, scopes: list[str]) -> str:
        """The token intake issues for CLIENT's API key 0192, naming `scopes`."""
        return issue_token(
            self.intake,
            subject="api-key:0192",
            role=Role.CLIENT,
            issuer="bpo-api-keys",
            audience="bpo",
            client_id=CLIENT,
            scopes=scopes,
        )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


def _token(key: str, issuer: str = "idp", **claims: Any) -> str:
    return jwt.encode(
        {"iss": issuer, "aud": "bpo", "exp": 4102444800, "sub": "someone", **claims},
        key,
        algorithm="RS256",
    )


async def test_a_managers_scope_claim_names_their_areas(keys: Keys) -> None:
    token = _token(keys.idp, role="manager", scope="ops finance")
    principal = await keys.verifier().verify(token)
    assert principal.scopes == {"ops", "finance"}
    assert scope_refusal(principal, [Scope.OPS]) is None
    assert scope_refusal(principal, [Scope.ADMIN]) == (
        "this needs the scope admin; the token has finance, ops"
    )


async def test_a_manager_without_a_scope_claim_may_do_everything_only_where_settings_allow(
    keys: Keys,
) -> None:
    token = _token(keys.idp, role="manager")
    allowed = await keys.verifier(manager_unscoped=True).verify(token)
    refused = await keys.verifier().verify(token)
    assert allowed.scopes == set(Scope)
    assert refused.scopes == frozenset()
    assert scope_refusal(refused, [Scope.OPS, Scope.FINANCE]) == (
        "this needs the scope ops or finance; the token has none"
    )


async def test_a_clients_own_token_has_every_client_scope_and_may_manage_keys(
    keys: Keys,
) -> None:
    principal = await keys.verifier().verify(_token(keys.idp, role="client", client_id=str(CLIENT)))
    assert principal.scopes == set(KeyScope) | {MANAGE_KEYS}


@pytest.mark.parametrize("claimed", ["openid email profile", "openid", ""])
async def test_a_clients_sign_in_whose_scope_names_none_of_the_platforms_is_its_own(
    keys: Keys, claimed: str
) -> None:
    """An identity provider's access token (Keycloak writes `openid email profile`): the
    client acts as itself, with every client scope."""
    token = _token(keys.idp, role="client", client_id=str(CLIENT), scope=claimed)
    principal = await keys.verifier().verify(token)
    assert principal.scopes == set(KeyScope) | {MANAGE_KEYS}
    assert scope_refusal(principal, [KeyScope.JOBS_WRITE]) is None


async def test_a_scope_claim_naming_the_platforms_scopes_still_narrows(keys: Keys) -> None:
    client = _token(keys.idp, role="client", client_id=str(CLIENT), scope="reports:read openid")
    narrowed = await keys.verifier().verify(client)
    assert narrowed.scopes == {"reports:read"}
    assert scope_refusal(narrowed, [KeyScope.JOBS_WRITE]) == (
        "this needs the scope jobs:write; the token has reports:read"
    )
    manager = _token(keys.idp, role="manager", scope="openid ops profile")
    assert (await keys.verifier(manager_unscoped=True).verify(manager)).scopes == {"ops"}


async def test_an_api_keys_token_naming_none_of_the_platforms_scopes_may_do_nothing(
    keys: Keys,
) -> None:
    """A key's token never stands for the client's sign-in, whatever its claim names."""
    principal = await keys.verifier().verify(keys.api_key_token(["openid"]))
    assert principal.scopes == frozenset()
    assert scope_refusal(principal, [KeyScope.RESULTS_READ]) == (
        "this needs the scope results:read; the token has none"
    )


async def test_an_api_keys_token_is_a_client_with_the_keys_scopes(keys: Keys) -> None:
    principal = await keys.verifier().verify(keys.api_key_token(["results:read", "invoices:read"]))
    assert principal == Principal(
        "api-key:0192", Role.CLIENT, CLIENT, frozenset({"results:read", "invoices:read"})
    )
    assert scope_refusal(principal, [KeyScope.JOBS_WRITE]) == (
        "this needs the scope jobs:write; the token has invoices:read, results:read"
    )


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        pytest.param(
            {"role": "manager", "scope": "ops finance admin"},
            "a token of an API key must be a client's, name its key and scopes",
            id="a-manager",
        ),
        pytest.param(
            {"role": "client", "client_id": str(CLIENT), "scope": "jobs:write"},
            "a token of an API key must be a client's, name its key and scopes",
            id="not-naming-a-key",
        ),
        pytest.param(
            {"role": "client", "client_id": str(CLIENT), "sub": "api-key:1"},
            "a token of an API key must be a client's, name its key and scopes",
            id="without-scopes",
        ),
    ],
)
async def test_intakes_key_signs_nothing_but_api_keys_tokens(
    keys: Keys, claims: dict[str, Any], detail: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        await keys.verifier().verify(_token(keys.intake, "bpo-api-keys", **claims))
    assert refused.value.detail == detail


async def test_each_issuer_is_checked_with_its_own_key_only(keys: Keys) -> None:
    claims = {"role": "client", "client_id": str(CLIENT), "sub": "api-key:1", "scope": "x"}
    # The identity provider's key does not make an API key's token, nor intake's a user's.
    for token in (_token(keys.idp, "bpo-api-keys", **claims), _token(keys.intake, **claims)):
        with pytest.raises(Unauthorized) as refused:
            await keys.verifier().verify(token)
        assert refused.value.detail == "invalid token: Signature verification failed"


async def test_a_scope_claim_that_is_not_a_string_is_refused(keys: Keys) -> None:
    with pytest.raises(Unauthorized) as refused:
        await keys.verifier().verify(_token(keys.idp, role="manager", scope=["ops"]))
    assert refused.value.detail == "the token's scope must be a string of space-separated scopes"


@pytest.mark.parametrize("subject", ["m" * 201, "", "man\x00ager"])
async def test_a_subject_that_could_not_be_recorded_is_refused(keys: Keys, subject: str) -> None:
    # Who acted is kept beside what they did (a key they created, an erasure they asked for).
    with pytest.raises(Unauthorized) as refused:
        await keys.verifier().verify(_token(keys.idp, role="manager", sub=subject))
    assert refused.value.detail == "the token's sub must be a string of 1 to 200 characters"
    accepted = await keys.verifier().verify(_token(keys.idp, role="manager", sub="m" * 200))
    assert accepted.subject == "m" * 200


def test_api_keys_need_an_issuer_of_their_own(keys: Keys) -> None:
    with pytest.raises(ValueError, match="BPO_API_KEY_ISSUER must differ from BPO_JWT_ISSUER"):
        TokenVerifier(
            issuer="bpo",
            audience="bpo",
            algorithm="RS256",
            public_key=keys.idp_public,
            api_keys=ApiKeyTrust("bpo", keys.intake_public),
        )


def test_the_algorithm_follows_from_the_key_never_from_a_token() -> None:
    def pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    assert algorithm_of(pem(ec.generate_private_key(ec.SECP256R1()))) == "ES256"
    assert algorithm_of(pem(ec.generate_private_key(ec.SECP384R1()))) == "ES384"
    assert algorithm_of(pem(ed25519.Ed25519PrivateKey.generate())) == "EdDSA"
    with pytest.raises(ValueError, match="RSA, EC P-256 or P-384, or Ed25519"):
        algorithm_of(pem(ec.generate_private_key(ec.SECP521R1())))


async def test_a_token_issued_by_a_clock_a_little_ahead_is_taken_one_far_ahead_is_not(
    keys: Keys,
) -> None:
    """Services on other hosts: a token issued a few seconds ahead of this clock is good now;
    one issued in a minute's time is not yet."""
    now = int(time.time())
    ahead = _token(keys.idp, role="manager", scope="ops", iat=now + 5, nbf=now + 5)
    assert (await keys.verifier().verify(ahead)).scopes == {"ops"}
    with pytest.raises(Unauthorized) as refused:
        await keys.verifier().verify(_token(keys.idp, role="manager", iat=now + 120))
    assert refused.value.detail == "invalid token: The token is not yet valid (iat)"


async def test_a_contractor_whose_sub_writes_their_id_in_capitals_is_still_themself() -> None:
    """Upper-case, as some identity providers write ids: the same contractor their claims and
    submits are (contractor_id_of), so the same one their profile and earnings are."""
    own = the_contractor_or_a_manager("no contractor {contractor_id}", Scope.OPS)
    contractor, another = new_id(), new_id()
    caller = Principal(str(contractor).upper(), Role.CONTRACTOR, None, frozenset())
    assert await own(contractor, caller) == contractor
    with pytest.raises(NotFound):
        await own(another, caller)
