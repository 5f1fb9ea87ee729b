"""The benchmarks' baseline: a FastAPI app that does nothing.

It is named like a service (`bpo_noop.app:create_app`) so that `devstack.start_service`
serves it with exactly the command line, flags and uvicorn defaults of a real service.
"""

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="no-op baseline")

    @app.post("/noop")
    async def noop() -> dict[str, Any]:
        return {}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app
