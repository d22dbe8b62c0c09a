"""SQS -> event source mapping -> function, end to end: messages/s with BatchSize 10 and 1.

A real `lambdalite serve`; a queue, a function whose handler appends one sink line per record (the same
fixed-width line as every other workload), and a mapping, all made with boto3. Messages are sent with
SendMessageBatch from a few threads while the mapping runs; the figure is messages / (last handler end -
first send).
"""

from __future__ import annotations

import io
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.config import Sizes
from bench.lambdalite_side import ROLE, Server, sink_dir
from bench.sink import Sink, event_bytes

SENDERS = 4
HANDLER = '''\
import json
import os
import time

_FD = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handler(event, context):
    start = time.time()
    lines = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        lines.append(b"%018.6f %018.6f %018.6f %010d\\n" % (body.get("t", 0.0), start, time.time(), body.get("id", 0)))
    os.write(_FD, b"".join(lines))
'''


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", HANDLER)
    return buf.getvalue()


def _client(server: Server, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 3}, read_timeout=60))


def _send(server: Server, url: str, first_id: int, count: int) -> None:
    sqs = _client(server, "sqs")
    for start in range(first_id, first_id + count, 10):
        ids = range(start, min(start + 10, first_id + count))
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": event_bytes(i, time.time()).decode()} for i in ids])


def one_run(server: Server, sink: Sink, batch_size: int, count: int, sizes: Sizes) -> dict[str, Any]:
    lam, sqs = _client(server, "lambda"), _client(server, "sqs")
    name = f"esm-bench-{batch_size}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Timeout=30, MemorySize=128,
                        Environment={"Variables": {"BENCH_SINK": str(sink.path)}})
    lam.create_event_source_mapping(EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{name}", FunctionName=name,
                                    BatchSize=batch_size)
    sink.mark()
    first_sent = time.time()
    per_sender = count // SENDERS
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(lambda n: _send(server, url, n * per_sender, per_sender), range(SENDERS)))
    sent_s = time.time() - first_sent
    done = sink.wait_for(per_sender * SENDERS, sizes.e2e_deadline_s, sizes.stall_s)
    records = sink.records()
    last_end = max((r.end_s for r in records), default=first_sent)
    out: dict[str, Any] = {"messages": per_sender * SENDERS, "completed": done, "send_seconds": round(sent_s, 3)}
    if records:
        out["per_s"] = round(done / max(last_end - first_sent, 1e-6), 1)
    return out


def run_esm(sizes: Sizes, work_dir: Path) -> dict[str, Any]:
    """Both batch sizes on one server (each its own queue, function and mapping)."""
    server = Server(work_dir).start()
    try:
        sink = Sink(sink_dir(work_dir) / "sink-esm.txt")
        sink.path.chmod(0o666)  # functions run as their own uid in the sandbox
        out: dict[str, Any] = {}
        for batch_size, count in ((10, sizes.e2e_count), (1, max(SENDERS, sizes.e2e_count // 5))):
            run = one_run(server, sink, batch_size, count, sizes)
            out[f"batch{batch_size}"] = run
            if "per_s" in run:
                out[f"batch{batch_size}_per_s"] = run["per_s"]
        return out
    finally:
        server.stop()
