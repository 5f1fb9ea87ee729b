"""Each service's OpenAPI document is the one committed in tests/openapi/: the public contract
changes only on purpose. After a deliberate change, rewrite the copies with
`BPO_WRITE_OPENAPI=1 .venv/bin/pytest tests/test_openapi_documents.py` and review the diff."""

import importlib
import json
import os
from pathlib import Path

import pytest

DOCUMENTS = Path(__file__).resolve().parent / "openapi"
SERVICES = ("intake", "validation", "billing", "reporting")


def _document(service: str) -> str:
    settings_class = importlib.import_module(f"bpo_{service}.settings").Settings
    settings = settings_class(database_url="postgresql+asyncpg://nobody:none@127.0.0.1:1/none")
    app = importlib.import_module(f"bpo_{service}.app").create_app(settings)
    return json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("service", SERVICES)
def test_the_openapi_document_is_the_committed_one(service: str) -> None:
    committed = DOCUMENTS / f"{service}.json"
    current = _document(service)
    if os.environ.get("BPO_WRITE_OPENAPI") == "1":
        committed.write_text(current)
    assert json.loads(current) == json.loads(committed.read_text())
