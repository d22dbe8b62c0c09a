"""SNS → Lambda end to end: Publish to a topic with a `lambda` subscription, count the function's runs.

Publishes go over raw keep-alive connections (bench/loadgen.py's client; unsigned query-protocol form
posts, routed to SNS by their Version), each message the usual ~100-byte event; the function unwraps the
SNS record and writes the sink's line. Figure: events/s from the first Publish to the last function end.
`python -m bench.sns [--count N]` runs it alone and prints the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config

from bench import measure
from bench.config import QUICK, Sizes
from bench.loadgen import connect
from bench.sink import Sink, event_bytes

# The sink handler, unwrapping the SNS record's Message first.
SNS_HANDLER_SOURCE = '''\
import json
import os
import time

_FD = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handler(event, context):
    start = time.time()
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    os.write(_FD, b"%018.6f %018.6f %018.6f %010d\\n" % (body.get("t", 0.0), start, time.time(), body.get("id", 0)))
    return None
'''
ROLE = "arn:aws:iam::000000000000:role/bench"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", SNS_HANDLER_SOURCE)
    return buf.getvalue()


def _publish_request(port: int, topic: str, message: bytes) -> bytes:
    body = (f"Action=Publish&Version=2010-03-31&TopicArn={quote(topic, safe='')}&Message=").encode() + \
        quote(message, safe="").encode()
    return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s") % (port, len(body), body)


async def _publish_all(port: int, topic: str, count: int, connections: int, first_id: int) -> dict[str, Any]:
    conns = [await connect("127.0.0.1", port) for _ in range(connections)]
    statuses: Counter[int] = Counter()
    ids = iter(range(first_id, first_id + count))
    first_sent_s = time.time()

    async def loop(conn: Any) -> None:
        for event_id in ids:
            status, _ = await conn.request(_publish_request(port, topic, event_bytes(event_id, time.time())))
            statuses[status] += 1

    await asyncio.gather(*(loop(c) for c in conns))
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    return {"first_sent_s": first_sent_s, "last_accepted_s": time.time(), "statuses": dict(statuses)}


def setup(endpoint: str, sink: Sink, name: str = "bench-sns") -> str:
    """The function and its topic subscription; returns the topic ARN."""
    config = Config(retries={"max_attempts": 1}, read_timeout=60)
    keys = {"region_name": "us-east-1", "aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    lam = boto3.client("lambda", endpoint_url=endpoint, config=config, **keys)
    sns = boto3.client("sns", endpoint_url=endpoint, config=config, **keys)
    function_arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                                       Code={"ZipFile": _zip()}, Timeout=30, MemorySize=128,
                                       Environment={"Variables": {"BENCH_SINK": str(sink.path)}})["FunctionArn"]
    topic = str(sns.create_topic(Name=name)["TopicArn"])
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    return topic


def run(port: int, topic: str, sink: Sink, sizes: Sizes) -> dict[str, Any]:
    """Warm up, then publish the measured events and wait for their function runs."""
    warmup = 32
    sink.mark()
    asyncio.run(_publish_all(port, topic, warmup, 8, -warmup))  # negative ids: not measured
    sink.wait_for(warmup, 60, sizes.stall_s)
    count = max(200, sizes.e2e_count // 4)
    sink.mark()
    sent = asyncio.run(_publish_all(port, topic, count, sizes.connections, 0))
    published = int(sent["statuses"].get(200, 0))
    sink.wait_for(published, sizes.e2e_deadline_s, sizes.stall_s)
    result = measure.end_to_end(sink.records(), float(sent["first_sent_s"]), count)
    result["publish_per_s"] = round(published / max(1e-9, sent["last_accepted_s"] - sent["first_sent_s"]), 1)
    result["statuses"] = sent["statuses"]
    return result


def run_sns(server: Any, sink: Sink, sizes: Sizes) -> dict[str, Any]:
    """The hook for bench/lambdalite_side.py: on a running bench Server."""
    topic = setup(server.endpoint, sink)
    return run(server.port, topic, sink, sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sns", description=__doc__)
    parser.add_argument("--count", type=int, default=QUICK.e2e_count)
    args = parser.parse_args(argv)
    from bench.lambdalite_side import Server, sink_dir

    work_dir = Path(tempfile.mkdtemp(prefix="lambdalite-bench-sns-"))
    sink = Sink(sink_dir(work_dir) / "sink-sns.txt")
    sink.path.chmod(0o666)
    server = Server(work_dir).start()
    try:
        from dataclasses import replace

        out = run_sns(server, sink, replace(QUICK, e2e_count=args.count * 4))
    finally:
        server.stop()
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
