from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import server as servers
from tests.support.server import LambdaliteProcess

BOTH_BACKENDS = "both_backends"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{BOTH_BACKENDS}: run the module's servers on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `pytestmark = pytest.mark.both_backends` runs every test on each store backend."""
    if metafunc.definition.get_closest_marker(BOTH_BACKENDS) and "server_backend" in metafunc.fixturenames:
        metafunc.parametrize("server_backend", servers.BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def server_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store backend the servers this module starts run on (LambdaliteProcess without `store=`)."""
    name: str = getattr(request, "param", "sqlite")
    if name == "postgresql":
        from tests.support import postgres

        if not postgres.available():
            pytest.skip("PostgreSQL is not installed (scripts/setup)")
    servers.use_backend(name)
    try:
        yield name
    finally:
        servers.use_backend("sqlite")


@pytest.fixture
def start_server(tmp_path: Path, server_backend: str) -> Iterator[Callable[..., LambdaliteProcess]]:
    """Factory: start_server(env=..., args=..., role=..., data_dir=...) -> a running LambdaliteProcess."""
    started: list[LambdaliteProcess] = []

    def start(**kwargs: Any) -> LambdaliteProcess:
        data_dir = kwargs.pop("data_dir", tmp_path / "data")
        proc = LambdaliteProcess(data_dir, **kwargs)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture
def server(start_server: Callable[..., LambdaliteProcess]) -> LambdaliteProcess:
    """A fresh lambdalite serve with a 1 s retry base delay."""
    return start_server()
