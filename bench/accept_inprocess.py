"""`python -m bench.accept_inprocess [N]`: CPU per accepted Event invoke through App.respond, in one process.

No HTTP and no load generator: the figure is the service path alone (routing, resolve, accept, the durable
group-committed write; the writer thread's CPU counts too), so a change on the accept path shows up even
on a busy machine, where `make bench`'s accept rate drifts by a quarter between runs. Run it before and
after a change, in one sitting, a few times each.
"""

from __future__ import annotations

import asyncio
import base64
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

from lambdalite import server
from lambdalite.settings import Settings

BATCH = 256  # concurrent requests: enough to fill group commits as a loaded server does
_SIGNED = "AWS4-HMAC-SHA256 Credential=test/20261129/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x"


def _code() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return base64.b64encode(buf.getvalue()).decode()


async def measure(count: int) -> tuple[float, float]:
    """(CPU µs per accepted event, accepts per second)."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data", dispatch=False, port=1)
    node = server.build_node(settings)
    app = server.build_app(node)
    create = orjson.dumps({"FunctionName": "f", "Runtime": "python3.11", "Role": "arn:aws:iam::000000000000:role/r",
                           "Handler": "handler.handler", "Code": {"ZipFile": _code()}})
    made = await app.respond(app.request("POST", "/2015-03-31/functions", "", {"host": "localhost"}, create))
    assert made.status == 201, made.body
    headers = {"host": "localhost", "x-amz-invocation-type": "Event", "authorization": _SIGNED}

    async def one() -> None:
        request = app.request("POST", "/2015-03-31/functions/f/invocations", "", dict(headers), b'{"key": "value"}')
        answer = await app.respond(request)
        assert answer.status == 202, answer.body

    for _ in range(3):  # warm: caches, the writer's first commits
        await asyncio.gather(*(one() for _ in range(BATCH)))
    done = 0
    cpu_s, wall_s = time.process_time(), time.perf_counter()
    while done < count:
        await asyncio.gather(*(one() for _ in range(BATCH)))
        done += BATCH
    cpu_s, wall_s = time.process_time() - cpu_s, time.perf_counter() - wall_s
    node.store.close()
    return cpu_s / done * 1e6, done / wall_s


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000
    try:
        import uvloop

        cpu_us, rate = uvloop.run(measure(count))
    except ImportError:
        cpu_us, rate = asyncio.run(measure(count))
    print(f"accept in process: CPU {cpu_us:.1f} µs/event, {rate:,.0f} accepts/s")


if __name__ == "__main__":
    main()
