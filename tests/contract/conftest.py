"""The contract suite runs every case against every store backend (`BACKENDS`).

Fixtures: `backend` (parametrised: one fresh deployment per test and backend, PostgreSQL's a fresh
database on the session's private server, tests/support/postgres.py; `backend.open(...)` opens
another store instance on the same data, as another process would) and `store` (one instance on it).
Async tests (`async def test_...`) run on a fresh event loop each (a small runner below, instead of a
plugin), bounded by ASYNC_TEST_TIMEOUT_S so a hang fails with its traceback.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalite.store.protocol import Store
from tests.support import postgres
from tests.support.backends import BACKENDS, Backend

ASYNC_TEST_TIMEOUT_S = 60.0


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgresql" and not postgres.available():
        pytest.skip("PostgreSQL is not installed (scripts/setup installs it)")
    opened = Backend(request.param, tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests with asyncio.run (no pytest-asyncio)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def bounded() -> None:
        async with asyncio.timeout(ASYNC_TEST_TIMEOUT_S):
            await pyfuncitem.obj(**args)

    asyncio.run(bounded())
    return True
