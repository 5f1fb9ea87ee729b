"""The reporting app in-process against the run's real PostgreSQL and NATS."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from bpo_common.db import SessionFactory
from bpo_common.messaging import connect
from bpo_devtools.testing import TestStack, Tokens, serve
from bpo_reporting.app import create_app
from bpo_reporting.settings import Settings

from .api import Reports


@pytest.fixture(scope="module")
def reporting_app(stack: TestStack) -> FastAPI:
    return create_app(stack.settings(Settings, "reporting"))


@pytest.fixture(scope="module")
async def reporting(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(reporting_app) as client:
        yield client


@pytest.fixture(scope="module")
def reporting_db(reporting_app: FastAPI, reporting: httpx.AsyncClient) -> SessionFactory:
    """Sessions on the reporting database, from the running app's own runtime."""
    sessions: SessionFactory = reporting_app.state.runtime.sessions
    return sessions


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    """A JetStream connection of the test's own, to publish events as the other services do."""
    client = await connect(stack.urls.nats_url, name="reporting-test")
    yield client.jetstream()
    await client.close()


@pytest.fixture
def reports(reporting: httpx.AsyncClient, tokens: Tokens) -> Reports:
    return Reports(reporting, tokens)
