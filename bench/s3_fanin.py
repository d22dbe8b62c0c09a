"""S3 PUT → Lambda fan-in: many clients PUT small objects into one bucket whose notification invokes one
function; events/s from the first PUT until the last handler finished (each PUT's 200 means its
notification job is committed; the job loop turns it into an async event, the dispatcher runs it).

The handler reads the event id and send time from the object's key (`e/<id>/<sent>`) and writes the same
fixed-width sink line as every other workload, so bench/measure.py counts it the same way.
"""

from __future__ import annotations

import http.client
import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from bench import measure
from bench.config import Sizes
from bench.lambdalite_side import ROLE, Server, sink_dir
from bench.sink import Sink

BUCKET = "bench-fanin"
FUNCTION = "bench-s3"
CONNECTIONS = 16

HANDLER = '''\
import os
import time

_FD = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handler(event, context):
    start = time.time()
    _, event_id, sent = event["Records"][0]["s3"]["object"]["key"].split("/")
    os.write(_FD, b"%018.6f %018.6f %018.6f %010d\\n" % (float(sent), start, time.time(), int(event_id)))
'''


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", HANDLER)
    return buf.getvalue()


def _configure(server: Server, sink: Sink) -> None:
    import boto3

    lam = server.lambda_client()
    lam.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Timeout=30, Environment={"Variables": {"BENCH_SINK": str(sink.path)}})
    s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    s3.create_bucket(Bucket=BUCKET)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}"
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})


def _put_all(port: int, ids: list[int], statuses: dict[int, int], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for event_id in ids:
            conn.request("PUT", f"/{BUCKET}/e/{event_id}/{time.time():.6f}", body=b"x" * 100)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
    finally:
        conn.close()


def _send(port: int, count: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=_put_all, args=(port, list(range(n, count, CONNECTIONS)), statuses, lock))
               for n in range(CONNECTIONS)]
    first_sent_s = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return first_sent_s, statuses


def run_s3_fanin(sizes: Sizes, work_dir: Path) -> dict[str, Any]:
    count = max(100, sizes.e2e_count // 4)
    sink = Sink(sink_dir(work_dir) / "sink-s3.txt")
    sink.path.chmod(0o666)
    server = Server(work_dir).start()
    try:
        _configure(server, sink)
        sink.mark()
        _put_all(server.port, [-1, -2, -3, -4], {}, threading.Lock())  # warm environments, not measured
        sink.wait_for(4, 60, sizes.stall_s)
        sink.mark()
        first_sent_s, statuses = _send(server.port, count)
        sink.wait_for(statuses.get(200, 0), sizes.e2e_deadline_s, sizes.stall_s)
        result = measure.end_to_end(sink.records(), first_sent_s, count)
        result["statuses"] = {str(k): v for k, v in statuses.items()}
        return result
    finally:
        server.stop()
