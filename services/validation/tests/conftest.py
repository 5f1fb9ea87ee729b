"""The validation app in-process against the run's real PostgreSQL and NATS."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, serve
from bpo_validation.app import create_app
from bpo_validation.settings import Settings


@pytest.fixture(scope="module")
def validation_settings(stack: TestStack) -> Settings:
    return stack.settings(Settings, "validation", quality_min_judged=6, quality_floor=0.75)


@pytest.fixture(scope="module")
async def validation_app(validation_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(validation_settings)
    async with serve(app) as client:
        app.state.client = client
        yield app


@pytest.fixture(scope="module")
def validation(validation_app: FastAPI) -> httpx.AsyncClient:
    client: httpx.AsyncClient = validation_app.state.client
    return client


@pytest.fixture(scope="module")
def validation_db(validation_app: FastAPI) -> SessionFactory:
    sessions: SessionFactory = validation_app.state.runtime.sessions
    return sessions
