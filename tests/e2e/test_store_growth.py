"""Under steady load the database file stops growing (outcomes past their retention are pruned as fast as
events end, freed pages are reused), and once the load stops it shrinks and the WAL is truncated."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.server import LambdaliteProcess, wait_until
from tests.support.zips import python_zip

ENV = {"LAMBDALITE_OUTCOME_RETENTION_SECONDS": "1", "LAMBDALITE_LEASE_SECONDS": "1.5",
       "LAMBDALITE_LOG_LEVEL": "warning"}
LOAD_S = 24.0
PAYLOAD = b'{"pad": "%s"}' % (b"x" * 4000)


def db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("lambdalite.db*") if p.name != "lambdalite.db-shm")


def test_the_database_stops_growing_under_steady_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = LambdaliteProcess(data_dir, env=ENV).start()
    try:
        lam = proc.client("lambda")
        lam.create_function(FunctionName="noop", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                            Handler="handler.handler", Code={"ZipFile": python_zip("def handler(e, c):\n    return 1\n")})
        stop = threading.Event()
        sent = [0]

        def load() -> None:
            client = proc.client("lambda")
            while not stop.is_set():
                client.invoke(FunctionName="noop", InvocationType="Event", Payload=PAYLOAD)
                sent[0] += 1

        samples: list[tuple[float, int]] = []
        with ThreadPoolExecutor(6) as pool:
            for _ in range(6):
                pool.submit(load)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < LOAD_S:
                samples.append((elapsed, db_bytes(data_dir)))
                time.sleep(0.25)  # the sampling period of a measurement, not a synchronisation
            stop.set()
        middle = max(size for t, size in samples if LOAD_S / 3 <= t < 2 * LOAD_S / 3)
        last = max(size for t, size in samples if t >= 2 * LOAD_S / 3)
        print(f"{sent[0]} events sent; database + WAL: middle third max {middle / 1e6:.1f} MB, "
              f"last third max {last / 1e6:.1f} MB")
        assert sent[0] > 1000
        assert last <= 1.5 * middle + 4_000_000, (middle, last)
        # Idle: every event ran, outcomes are pruned, free pages given back, the WAL truncated.
        wait_until(lambda: db_bytes(data_dir) < max(middle / 2, 2_000_000) and
                   not (data_dir / "lambdalite.db-wal").stat().st_size, timeout_s=90,
                   what="the database to shrink once idle")
    finally:
        proc.kill()
