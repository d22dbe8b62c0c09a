from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LambdaliteProcess


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LambdaliteProcess]]:
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
