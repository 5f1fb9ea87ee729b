"""The tokens the CLI signs: with the local stack's key pair, or the one configured."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from bpo_common.auth import Role, Scope, ensure_key_pair, issue_token


def run_dir() -> Path:
    return Path(os.environ.get("BPO_RUN_DIR", ".run")).resolve()


@dataclass(frozen=True)
class Signer:
    private_key_pem: str
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
            scopes=(scopes or list(Scope)) if role is Role.MANAGER else None,
        )

    def headers(self, role: Role, subject: str, client_id: UUID | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, client_id)}"}


def local_signer() -> Signer:
    """BPO_JWT_PRIVATE_KEY_FILE's key if set, else the local stack's (created if missing);
    issuer and audience from BPO_JWT_ISSUER and BPO_JWT_AUDIENCE, as the services read them."""
    configured = os.environ.get("BPO_JWT_PRIVATE_KEY_FILE")
    private_key = Path(configured) if configured else ensure_key_pair(run_dir() / "jwt")[0]
    return Signer(
        private_key.read_text(),
        issuer=os.environ.get("BPO_JWT_ISSUER", "bpo-local"),
        audience=os.environ.get("BPO_JWT_AUDIENCE", "bpo"),
    )
