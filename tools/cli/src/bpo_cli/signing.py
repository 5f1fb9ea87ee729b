"""The tokens the CLI signs: with the local stack's key pair, or the one configured."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import typer

from bpo_common.auth import Role, Scope, ensure_key_pair, issue_token, signing_algorithm_of


def run_dir() -> Path:
    return Path(os.environ.get("BPO_RUN_DIR", ".run")).resolve()


@dataclass(frozen=True)
class Signer:
    private_key_pem: str
    algorithm: str = "RS256"
    issuer: str = "bpo-local"
    audience: str = "bpo"

    def token(
        self,
        role: Role,
        subject: str,
        client_id: UUID | None = None,
        ttl: timedelta = timedelta(hours=12),
        scopes: Sequence[Scope] = (),
    ) -> str:
        """A token for `role`; a manager's carries `scopes`, every scope when none are given."""
        return issue_token(
            self.private_key_pem,
            subject=subject,
            role=role,
            client_id=client_id if role is Role.CLIENT else None,
            issuer=self.issuer,
            audience=self.audience,
            ttl=ttl,
            algorithm=self.algorithm,
            scopes=(scopes or list(Scope)) if role is Role.MANAGER else None,
        )

    def headers(self, role: Role, subject: str, client_id: UUID | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, client_id)}"}


def local_signer() -> Signer:
    """BPO_JWT_PRIVATE_KEY_FILE's key if set, else the local stack's (made, and said so, if
    missing); its algorithm the key's; issuer and audience from BPO_JWT_ISSUER and
    BPO_JWT_AUDIENCE, as the services read them. A key that cannot be read ends the command
    with what to do."""
    configured = os.environ.get("BPO_JWT_PRIVATE_KEY_FILE")
    try:
        if configured:
            private_key = Path(configured)
        else:
            directory = run_dir() / "jwt"
            made = not (directory / "private.pem").exists()
            private_key = ensure_key_pair(directory)[0]
            if made:
                typer.echo(
                    f"made a new signing key pair in {directory}: the services accept its "
                    "tokens only if they read its public.pem (run this where `make run` runs, "
                    "or set BPO_RUN_DIR or BPO_JWT_PRIVATE_KEY_FILE)",
                    err=True,
                )
        pem = private_key.read_text()
        algorithm = _algorithm(signing_algorithm_of(pem), os.environ.get("BPO_JWT_ALGORITHM"))
    except (OSError, ValueError) as exc:
        typer.echo(f"no key to sign tokens with: {exc}", err=True)
        raise typer.Exit(1) from exc
    return Signer(
        pem,
        algorithm=algorithm,
        issuer=os.environ.get("BPO_JWT_ISSUER", "bpo-local"),
        audience=os.environ.get("BPO_JWT_AUDIENCE", "bpo"),
    )


def _algorithm(keys: str, configured: str | None) -> str:
    """The algorithm to sign with: the key's, or BPO_JWT_ALGORITHM's where the services are set
    to another one the key signs (an RSA key: RS384 or RS512); ValueError otherwise."""
    if not configured or configured == keys:
        return keys
    if keys == "RS256" and configured in ("RS384", "RS512"):
        return configured
    raise ValueError(f"BPO_JWT_ALGORITHM is {configured}, but the key signs {keys}")
