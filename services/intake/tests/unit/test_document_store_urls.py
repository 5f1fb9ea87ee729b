"""The document store URLs the README gives open the store they describe, offline."""

import re
from pathlib import Path

from obstore.store import AzureStore

from bpo_intake.repository.objects import open_store

README = Path(__file__).resolve().parents[4] / "README.md"


def _documented(scheme: str) -> str:
    """The `scheme://…` form of the README's BPO_INTAKE_DOCUMENT_STORE_URL row."""
    rows = README.read_text().splitlines()
    (row,) = [line for line in rows if "`BPO_INTAKE_DOCUMENT_STORE_URL`" in line]
    found = re.search(rf"`({scheme}://[^`]+)`", row)
    assert found, f"the README gives no {scheme}:// form"
    return found.group(1)


def test_the_readmes_azure_url_names_the_container_and_the_account_comes_from_the_options() -> None:
    store = open_store(_documented("az"), {"account_name": "account", "skip_signature": "true"})
    assert isinstance(store, AzureStore)
    assert store.config["container_name"] == "container"
    assert store.config["account_name"] == "account"
    assert store.prefix == "prefix"
