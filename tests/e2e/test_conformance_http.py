"""Conformance of what a client sees on the wire, and robustness of the HTTP surface.

One server for the module; raw HTTP (http.client / sockets) where boto3 would validate client-side.
Every test also checks, at the end of the module, that nothing reached the server log as a traceback.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.runtime_support import environment_alive
from tests.e2e.test_lambda_helpers import ROLE, create
from tests.support.server import LambdaliteProcess, module_server, wait_until
from tests.support.zips import ECHO, python_zip

JSON10 = "application/x-amz-json-1.0"
JSON11 = "application/x-amz-json-1.1"
FORM = "application/x-www-form-urlencoded"


server = module_server("conformance")


@pytest.fixture(scope="module")
def lam(server: LambdaliteProcess) -> Any:
    client = server.client("lambda")
    create(client, "conf-fn")
    return client


def call(
    server: LambdaliteProcess,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def send_raw(server: LambdaliteProcess, data: bytes, timeout_s: float = 10.0) -> bytes:
    """Write bytes on a fresh connection; return what came back until the server answered or closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


# ---- Lambda: headers on every response ----------------------------------------------------------


def test_lambda_success_responses_carry_a_request_id(server: LambdaliteProcess, lam: Any) -> None:
    for method, path in [
        ("GET", "/2015-03-31/functions/conf-fn"),
        ("GET", "/2015-03-31/functions/conf-fn/configuration"),
        ("GET", "/2015-03-31/functions/"),
        ("GET", "/2016-08-19/account-settings"),
        ("GET", "/2015-03-31/functions/conf-fn/versions"),
    ]:
        status, headers, _ = call(server, method, path)
        assert status == 200, path
        assert len(headers.get("x-amzn-requestid", "")) == 36, (path, headers)
    answer = lam.get_function_configuration(FunctionName="conf-fn")
    assert answer["ResponseMetadata"]["RequestId"]


def test_invoke_path_with_another_method_is_405(server: LambdaliteProcess, lam: Any) -> None:
    status, headers, body = call(server, "GET", "/2015-03-31/functions/conf-fn/invocations")
    assert status == 405
    assert headers["x-amzn-errortype"] == "MethodNotAllowedException"
    assert json.loads(body)["Type"] == "User"


# ---- Lambda: FunctionConfiguration validation ---------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "constraint"),
    [
        ("a b", r"Member must satisfy regular expression pattern: [^\s]+"),
        ("", r"Member must satisfy regular expression pattern: [^\s]+"),
        ("h" * 129, "Member must have length less than or equal to 128"),
    ],
)
def test_handler_is_validated(server: LambdaliteProcess, lam: Any, handler: str, constraint: str) -> None:
    for method, path, body in [
        ("PUT", "/2015-03-31/functions/conf-fn/configuration", {"Handler": handler}),
        (
            "POST",
            "/2015-03-31/functions",
            {
                "FunctionName": "conf-bad-handler",
                "Runtime": "python3.12",
                "Role": ROLE,
                "Handler": handler,
                "Code": {"ZipFile": base64.b64encode(python_zip(ECHO)).decode()},
            },
        ),
    ]:
        status, headers, raw = call(server, method, path, json.dumps(body).encode())
        assert status == 400, raw
        assert headers["x-amzn-errortype"] == "ValidationException"
        assert json.loads(raw) == {
            "Message": f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy constraint: "
            + constraint
        }
    assert lam.get_function_configuration(FunctionName="conf-fn")["Handler"] == "handler.handler"
    status, _, _ = call(server, "GET", "/2015-03-31/functions/conf-bad-handler")
    assert status == 404


# ---- destinations -------------------------------------------------------------------------------


def test_destination_record_of_a_deeply_nested_payload_is_delivered(
    server: LambdaliteProcess, lam: Any
) -> None:
    """orjson writes at most 255 levels: a payload it cannot write back travels as text, as non-JSON does."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="conf-deep-dest")["QueueUrl"]
    create(lam, "conf-deep-fn", "def handler(event, context):\n    return 1\n")
    lam.put_function_event_invoke_config(
        FunctionName="conf-deep-fn",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:conf-deep-dest"}},
    )
    payload = "[" * 400 + "]" * 400
    request_id = lam.invoke(FunctionName="conf-deep-fn", InvocationType="Event", Payload=payload.encode())[
        "ResponseMetadata"
    ]["RequestId"]
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        timeout_s=30,
        what="record",
    )
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == payload
    assert record["responsePayload"] == 1


# ---- SQS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("attributes", [[], ["x"], "text", 1, [{"Name": "VisibilityTimeout"}]])
def test_sqs_create_queue_attributes_must_be_a_map(server: LambdaliteProcess, attributes: Any) -> None:
    body = json.dumps({"QueueName": "conf-attrs", "Attributes": attributes}).encode()
    status, headers, raw = call(
        server, "POST", "/", body, {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": JSON10}
    )
    assert status == 400, raw
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert json.loads(raw)["__type"] == "com.amazonaws.sqs#InvalidParameterValueException"
    status, _, _ = call(
        server,
        "POST",
        "/",
        b'{"QueueName":"conf-attrs"}',
        {"X-Amz-Target": "AmazonSQS.GetQueueUrl", "Content-Type": JSON10},
    )
    assert status == 400  # nothing was created


@pytest.mark.parametrize("name", ["conf-q\n", "conf q", "x" * 81])
def test_sqs_queue_names_are_checked_whole(server: LambdaliteProcess, name: str) -> None:
    sqs = server.client("sqs")
    with pytest.raises(sqs.exceptions.ClientError) as caught:
        sqs.create_queue(QueueName=name)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert not [u for u in sqs.list_queues(QueueNamePrefix="conf-q").get("QueueUrls", []) if u.endswith("\n")]


def test_sqs_query_responses_carry_a_request_id(server: LambdaliteProcess) -> None:
    status, headers, body = call(server, "POST", "/", b"Action=ListQueues", {"Content-Type": FORM})
    assert status == 200, body
    assert len(headers.get("x-amzn-requestid", "")) == 36
    assert headers["x-amzn-requestid"].encode() in body


# ---- EventBridge ---------------------------------------------------------------------------------


def events_call(
    server: LambdaliteProcess, operation: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    status, _, raw = call(
        server,
        "POST",
        "/",
        json.dumps(body).encode(),
        {"X-Amz-Target": f"AWSEvents.{operation}", "Content-Type": JSON11},
    )
    return status, json.loads(raw)


def test_events_time_out_of_range_is_an_entry_error(server: LambdaliteProcess) -> None:
    for time_value in [10**30, -(10**30), 1e300, "0001-01-01T00:00:00+14:00"]:
        entry = {"Source": "conf", "DetailType": "d", "Detail": "{}", "Time": time_value}
        status, answer = events_call(server, "PutEvents", {"Entries": [entry]})
        assert status == 200, answer
        assert answer["FailedEntryCount"] == 1
        assert answer["Entries"] == [
            {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Time is not valid."}
        ]


def _nested_pattern(depth: int) -> str:
    return '{"a":' * depth + '["1"]' + "}" * depth


def test_events_deeply_nested_pattern_is_refused_not_a_poisoned_bus(server: LambdaliteProcess) -> None:
    events_call(server, "CreateEventBus", {"Name": "conf-deep"})
    pattern = _nested_pattern(680)  # within PutRule's 4096 characters
    status, answer = events_call(
        server, "PutRule", {"Name": "conf-deep", "EventBusName": "conf-deep", "EventPattern": pattern}
    )
    assert status == 400, answer
    assert answer["__type"] == "InvalidEventPatternException"
    assert answer["message"].startswith("Event pattern is not valid. Reason: ")
    event = {
        "id": "1", "account": "000000000000", "source": "a", "time": "2020-01-01T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail-type": "x", "detail": {},
    }  # fmt: skip
    status, answer = events_call(
        server, "TestEventPattern", {"EventPattern": pattern, "Event": json.dumps(event)}
    )
    assert status == 400 and answer["__type"] == "InvalidEventPatternException", answer
    status, answer = events_call(
        server, "TestEventPattern", {"EventPattern": _nested_pattern(50), "Event": json.dumps(event)}
    )
    assert (status, answer) == (200, {"Result": False})


def test_events_detail_too_deep_to_write_back_is_malformed(server: LambdaliteProcess) -> None:
    detail = '{"a":' + "[" * 1000 + '"1"' + "]" * 1000 + "}"
    entry = {"Source": "conf", "DetailType": "d", "Detail": detail}
    status, answer = events_call(server, "PutEvents", {"Entries": [entry]})
    assert status == 200, answer
    assert answer["Entries"] == [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]


def test_events_deeply_nested_detail_is_matched(server: LambdaliteProcess) -> None:
    events_call(server, "CreateEventBus", {"Name": "conf-deep-detail"})
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="conf-deep-detail")
    events_call(
        server,
        "PutRule",
        {"Name": "conf-dd", "EventBusName": "conf-deep-detail", "EventPattern": '{"detail":{"a":["1"]}}'},
    )
    target = {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:000000000000:conf-deep-detail"}
    events_call(
        server, "PutTargets", {"Rule": "conf-dd", "EventBusName": "conf-deep-detail", "Targets": [target]}
    )
    detail = '{"a":' + "[" * 240 + '"1"' + "]" * 240 + "}"
    entry = {"Source": "conf", "DetailType": "d", "Detail": detail, "EventBusName": "conf-deep-detail"}
    status, answer = events_call(server, "PutEvents", {"Entries": [entry]})
    assert status == 200 and answer["FailedEntryCount"] == 0, answer
    url = sqs.get_queue_url(QueueName="conf-deep-detail")["QueueUrl"]
    received = wait_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        timeout_s=30,
        what="delivery",
    )
    assert json.loads(received[0]["Body"])["detail"] == json.loads(detail)


# ---- the HTTP surface ---------------------------------------------------------------------------


_BAD_BODIES = [b"[]", b"null", b"1", b'"s"', b"\xff\xfe", b"{", b'{"\xff":1}']


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/2015-03-31/functions", {}),
        ("PUT", "/2015-03-31/functions/conf-fn/configuration", {}),
        ("PUT", "/2015-03-31/functions/conf-fn/code", {}),
        ("POST", "/2015-03-31/functions/conf-fn/versions", {}),
        ("POST", "/2015-03-31/functions/conf-fn/aliases", {}),
        ("PUT", "/2017-10-31/functions/conf-fn/concurrency", {}),
        ("PUT", "/2024-08-31/functions/conf-fn/recursion-config", {}),
        ("PUT", "/2019-09-25/functions/conf-fn/event-invoke-config", {}),
        ("POST", "/2015-03-31/functions/conf-fn/invocations", {"X-Amz-Invocation-Type": "Event"}),
        ("POST", "/", {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": JSON10}),
        ("POST", "/", {"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": JSON10}),
        ("POST", "/", {"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": JSON11}),
        ("POST", "/", {"X-Amz-Target": "AWSEvents.PutRule", "Content-Type": JSON11}),
    ],
)
def test_malformed_bodies_get_an_error_envelope(
    server: LambdaliteProcess, lam: Any, method: str, path: str, headers: dict[str, str]
) -> None:
    bodies = _BAD_BODIES[4:] if path.endswith("/invocations") else _BAD_BODIES  # any JSON is a payload
    for body in bodies:
        status, answer_headers, raw = call(server, method, path, body, headers)
        assert 400 <= status < 500, (body, status, raw)
        assert "x-amzn-requestid" in answer_headers
        json.loads(raw)


def _model(service: str, version: str) -> dict[str, Any]:
    import botocore

    path = Path(botocore.__file__).parent / "data" / service / version / "service-2.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    return dict(json.loads(gzip.decompress(path.with_suffix(".json.gz").read_bytes())))


_WRONG_TYPES: list[Any] = [1, -1, 1.5, True, None, [], ["x"], {}, {"x": [1]}, "", "x" * 5000]


def _fuzz(
    server: LambdaliteProcess, ops: list[tuple[str, str, dict[str, str], dict[str, Any], list[str]]]
) -> None:
    """Each body member set to each wrong type, on top of a valid base body: never a 5xx."""
    for method, path, headers, base, members in ops:
        for member in members:
            for value in _WRONG_TYPES:
                body = json.dumps({**base, member: value}).encode()
                status, answer_headers, raw = call(server, method, path, body, headers)
                assert status < 500, (method, path, member, value, status, raw[:300])
                assert "x-amzn-requestid" in answer_headers


def _body_members(model: dict[str, Any], operation: str) -> list[str]:
    op = model["operations"][operation]
    if "input" not in op:
        return []
    shape = model["shapes"][op["input"]["shape"]]
    return [m for m, spec in shape.get("members", {}).items() if "location" not in spec]


def test_wrong_json_types_in_lambda_bodies(server: LambdaliteProcess, lam: Any) -> None:
    model = _model("lambda", "2015-03-31")
    zipped = base64.b64encode(python_zip(ECHO)).decode()
    create_base = {"FunctionName": "conf-fuzz", "Runtime": "python3.12", "Role": ROLE, "Handler": "h.h"}
    ops: list[tuple[str, str, dict[str, str], dict[str, Any], list[str]]] = []
    cases: list[tuple[str, dict[str, Any]]] = [
        ("CreateFunction", {**create_base, "Code": {"ZipFile": zipped}}),
        ("UpdateFunctionConfiguration", {"Timeout": 5}),
        ("UpdateFunctionCode", {"ZipFile": zipped}),
        ("PublishVersion", {}),
        ("CreateAlias", {"Name": "fuzz", "FunctionVersion": "$LATEST"}),
        ("PutFunctionConcurrency", {"ReservedConcurrentExecutions": 1}),
        ("PutFunctionEventInvokeConfig", {"MaximumRetryAttempts": 1}),
        ("UpdateFunctionEventInvokeConfig", {"MaximumRetryAttempts": 1}),
        ("PutFunctionRecursionConfig", {"RecursiveLoop": "Allow"}),
    ]
    for name, base in cases:
        http_spec = model["operations"][name]["http"]
        path = http_spec["requestUri"].split("?")[0].replace("{FunctionName}", "conf-fn")
        ops.append((http_spec["method"], path, {}, base, _body_members(model, name)))
    _fuzz(server, ops)
    lam.delete_function_concurrency(FunctionName="conf-fn")
    assert lam.get_function(FunctionName="conf-fn")["Configuration"]["Handler"] == "handler.handler"


def test_wrong_json_types_in_sqs_and_events_bodies(server: LambdaliteProcess) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="conf-fuzz")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    model = _model("sqs", "2012-11-05")
    bases: dict[str, dict[str, Any]] = {"CreateQueue": {"QueueName": "conf-fuzz-2"}, "ListQueues": {}}
    ops: list[tuple[str, str, dict[str, str], dict[str, Any], list[str]]] = []
    for name in model["operations"]:
        if name.startswith(("Delete", "Purge")) and name != "DeleteMessageBatch":
            continue
        base = bases.get(name, {"QueueUrl": url, "ReceiptHandle": handle, "MessageBody": "x", "Entries": []})
        headers = {"X-Amz-Target": f"AmazonSQS.{name}", "Content-Type": JSON10}
        ops.append(("POST", "/", headers, base, _body_members(model, name)))
    events_model = _model("events", "2015-10-07")
    events_call(server, "PutRule", {"Name": "conf-fuzz", "EventPattern": '{"source":["conf-fuzz"]}'})
    for name in ["PutRule", "PutTargets", "PutEvents", "TestEventPattern", "ListRules", "CreateEventBus"]:
        base = {
            "Name": "conf-fuzz",
            "Rule": "conf-fuzz",
            "Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}],
        }
        headers = {"X-Amz-Target": f"AWSEvents.{name}", "Content-Type": JSON11}
        ops.append(("POST", "/", headers, base, _body_members(events_model, name)))
    _fuzz(server, ops)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PATCH"])
def test_other_methods_get_an_error_envelope(server: LambdaliteProcess, method: str) -> None:
    for path in ["/", "/2015-03-31/functions/conf-fn", "/2015-03-31/functions/%ff%fe", "/%", "//x//"]:
        status, headers, _ = call(server, method, path)
        assert status in (404, 405), (method, path, status)
        assert headers["x-amzn-errortype"] in ("UnknownOperationException", "MethodNotAllowedException")


# ---- Invoke: the request is checked before the function is looked up --------------------------------


def test_event_invoke_too_large_is_413_even_for_a_missing_function(server: LambdaliteProcess) -> None:
    body = b'{"a":"' + b"x" * 2_000_000 + b'"}'
    status, headers, raw = call(server, "POST", "/2015-03-31/functions/no-such-fn/invocations", body,
                                {"X-Amz-Invocation-Type": "Event"})
    assert status == 413 and headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert json.loads(raw)["message"] == (
        f"{len(body)} byte payload is too large for the Event invocation type (limit 1048576 bytes)")


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
def test_invalid_json_payload_has_the_same_message_sync_and_async(
    server: LambdaliteProcess, lam: Any, invocation_type: str
) -> None:
    status, headers, raw = call(server, "POST", "/2015-03-31/functions/conf-fn/invocations", b"{nope",
                                {"X-Amz-Invocation-Type": invocation_type})
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(raw)["message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: ")


# ---- HTTP front door -------------------------------------------------------------------------------


def test_responses_carry_a_date_header(server: LambdaliteProcess, lam: Any) -> None:
    _, headers, _ = call(server, "GET", "/2015-03-31/functions/conf-fn")
    assert headers["date"].endswith(" GMT")


def test_absolute_form_request_target_and_fragment(server: LambdaliteProcess, lam: Any) -> None:
    host = f"127.0.0.1:{server.port}"
    raw = send_raw(server, f"GET http://{host}/2015-03-31/functions/conf-fn#frag HTTP/1.1\r\n"
                           f"Host: {host}\r\nConnection: close\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]


def test_oversized_headers_are_refused_and_the_connection_closed(server: LambdaliteProcess) -> None:
    raw = send_raw(server, b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 +
                   b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 431 "), raw[:200]


def test_oversized_url_is_refused(server: LambdaliteProcess) -> None:
    raw = send_raw(server, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 414 "), raw[:200]


def test_oversized_content_length_is_refused_before_the_body(server: LambdaliteProcess) -> None:
    raw = send_raw(server, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 999999999999\r\n\r\n{", timeout_s=10)
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    assert b"x-amzn-ErrorType: RequestEntityTooLargeException" in raw


def test_destination_side_that_is_not_an_object_is_refused(server: LambdaliteProcess, lam: Any) -> None:
    create(lam, "conf-dest")
    body = json.dumps({"DestinationConfig": {"OnSuccess": []}}).encode()
    status, headers, _ = call(server, "PUT", "/2019-09-25/functions/conf-dest/event-invoke-config", body)
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidParameterValueException"
    status, _, _ = call(server, "GET", "/2019-09-25/functions/conf-dest/event-invoke-config")
    assert status == 404  # nothing was stored


def test_delete_function_stops_its_warm_environments(server: LambdaliteProcess, lam: Any) -> None:
    source = "import os\ndef handler(event, context):\n    return os.environ['AWS_LAMBDA_LOG_STREAM_NAME']\n"
    lam.create_function(FunctionName="conf-retire", Runtime="python3.11", Handler="handler.handler", Role=ROLE,
                        Code={"ZipFile": python_zip(source)})
    stream = json.loads(lam.invoke(FunctionName="conf-retire")["Payload"].read())
    assert environment_alive(stream)
    lam.delete_function(FunctionName="conf-retire")
    wait_until(lambda: not environment_alive(stream), timeout_s=10, what="the deleted function's environment to stop")


def test_no_traceback_reached_the_log(server: LambdaliteProcess) -> None:
    """Runs last in this module: nothing above made the server log an internal error."""
    log = server.log_text()
    assert "Traceback" not in log, log[-4000:]
