"""Function processes never outlive lambdalite, even when it is killed with SIGKILL."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.e2e.runtime_support import pid_alive, pid_dead, write_code
from tests.support.server import wait_until

PARENT = textwrap.dedent("""
    import asyncio, json, sys, uuid
    from pathlib import Path
    from lambdalite.model.run import InvokeRequest
    from lambdalite.runtime.pool import EnvironmentPool
    from lambdalite.settings import Settings
    from lambdalite.store import open_store
    from tests.e2e.runtime_support import make_spec

    async def main():
        settings = Settings(data_dir=Path(sys.argv[1]))
        pool = EnvironmentPool(settings, open_store(settings))
        code = Path(sys.argv[2])
        specs = [make_spec(code, "handler.handler", name="a"), make_spec(code, "handler.handler", name="b"),
                 make_spec(code, "x", "provided.al2023", name="c")]
        results = await asyncio.gather(*(pool.invoke(s, InvokeRequest(str(uuid.uuid4()), b"{}", s.function_arn))
                                         for s in specs))
        assert all(r.status.value == "ok" for r in results), [r.payload for r in results]
        # One environment busy in time.sleep: only PR_SET_PDEATHSIG can stop it when we die.
        busy = make_spec(code, "handler.handler", name="d")
        asyncio.create_task(pool.invoke(busy, InvokeRequest(str(uuid.uuid4()), b'{"sleep": 60}', busy.function_arn)))
        while len(pool.pids()) < 4 or pool.stats()["busy"] < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        print(json.dumps(pool.pids()), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
""")


def test_environments_die_with_a_killed_parent(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {
        "handler.py": "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 1\n",
        "bootstrap": """
            #!/bin/bash
            API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
            while true; do
              HEADERS="$(mktemp)"
              curl -sS -D "$HEADERS" "$API/invocation/next" > /dev/null || exit 1
              ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
              rm -f "$HEADERS"
              curl -sS -X POST "$API/invocation/$ID/response" -d '1' > /dev/null
            done
        """}, executable=("bootstrap",))
    repo = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "data"), str(code)], cwd=repo,
                              env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, parent.stderr.read().decode() if parent.stderr else "parent died"
        pids = json.loads(line)
        assert len(pids) == 4 and all(pid_alive(pid) for pid in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        for pid in pids:
            wait_until(functools.partial(pid_dead, pid), timeout_s=15, what=f"environment {pid} to die")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
