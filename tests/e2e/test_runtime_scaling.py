"""How the pool scales for callers that may queue (the async dispatcher, `prefer_warm=True`): bursts of
short invocations reuse warm environments, slow ones scale out. Sync callers get one each (AWS's way)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lambdalite.runtime.pool import EnvironmentPool
from tests.e2e.runtime_support import body, make_spec, request, run_with_pool, settings_for, write_code


def test_a_burst_of_short_invocations_reuses_a_few_warm_environments(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import os
        def handler(event, context):
            return {"env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
    """})
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool) -> list[str]:
        await pool.invoke(spec, request())  # one warm environment, and a measured cold start
        results = await asyncio.gather(*(pool.invoke(spec, request(), prefer_warm=True) for _ in range(40)))
        return [body(r)["env"] for r in results]

    pids = run_with_pool(settings_for(tmp_path), scenario)
    assert len(pids) == 40
    # Forty one-at-a-time environments would mean forty processes; waiting for a warm one is cheaper.
    assert len(set(pids)) < 20


def test_slow_invocations_scale_out_to_one_environment_each(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import os, time
        def handler(event, context):
            time.sleep(1.5)
            return {"env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
    """})
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool) -> list[str]:
        await pool.invoke(spec, request())
        results = await asyncio.gather(*(pool.invoke(spec, request(), prefer_warm=True) for _ in range(4)))
        return [body(r)["env"] for r in results]

    pids = run_with_pool(settings_for(tmp_path), scenario)
    assert len(set(pids)) == 4  # each ran in its own environment, side by side
