"""Node.js functions on a real server through boto3: handler styles, context, errors, logs, async, the JS SDK."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdalite.runtime.interpreters import find_node
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until
from tests.support.zips import make_zip

RUNTIME = "nodejs20.x"
ROLE = "arn:aws:iam::000000000000:role/lambda"
pytestmark = pytest.mark.skipif(find_node(20) is None, reason="node 20 is not installed on this host")

server = module_server("node-runtime")
lam = module_client("lambda")
sqs = module_client("sqs")

CJS = """
exports.handler = async (event, context) => {
  console.log("cjs got", event);
  return { style: "cjs-async", event, trace: process.env._X_AMZN_TRACE_ID };
};
exports.callback = (event, context, callback) => {
  setTimeout(() => { console.log("timer after callback"); }, 100);
  callback(null, { style: "callback", started: Date.now() });
};
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 5000);
  callback(null, { style: "no-wait" });
};
exports.callbackError = (event, context, callback) => callback(new RangeError("out of range"));
exports.context = async (event, context) => ({
  functionName: context.functionName, functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId, logGroupName: context.logGroupName, logStreamName: context.logStreamName,
  remainingMs: context.getRemainingTimeInMillis(), waits: context.callbackWaitsForEmptyEventLoop,
  clientContext: context.clientContext ?? null, identity: context.identity ?? null,
  executionEnv: process.env.AWS_EXECUTION_ENV,
});
exports.boom = async () => { throw new TypeError("bad input"); };
let count = 0;
exports.late = async (event) => {
  count += 1;
  if (event.throw) { setTimeout(() => { throw new Error("late boom"); }, 10); return new Promise(() => {}); }
  if (event.reject) { Promise.reject("nope"); await new Promise((done) => setTimeout(done, 200)); }
  return count;
};
exports.logs = async (event, context) => {
  console.log("info line", { n: 1 });
  console.error("error line");
  console.warn("warn line");
  return context.awsRequestId;
};
"""
ESM = """
import { basename } from "node:path";
export const handler = async (event) => ({ style: "esm", file: basename(import.meta.url), event });
"""


def _create(lam: Any, name: str, handler: str, files: dict[str, str], **extra: Any) -> None:
    lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler=handler,
                        Code={"ZipFile": make_zip(dict(files))}, Timeout=extra.pop("Timeout", 10), **extra)


def _invoke(lam: Any, name: str, payload: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **extra)
    return out, json.loads(out["Payload"].read())


@pytest.fixture(scope="module")
def cjs_function(lam: Any) -> str:
    _create(lam, "node-cjs", "index.handler", {"index.js": CJS})
    return "node-cjs"


def test_commonjs_and_es_module_handlers(lam: Any, cjs_function: str) -> None:
    out, body = _invoke(lam, cjs_function, {"k": 1})
    assert "FunctionError" not in out and body["style"] == "cjs-async" and body["event"] == {"k": 1}
    _create(lam, "node-mjs", "app.handler", {"app.mjs": ESM})
    assert _invoke(lam, "node-mjs", {"m": 2})[1] == {"style": "esm", "file": "app.mjs", "event": {"m": 2}}
    _create(lam, "node-esm-js", "src/app.handler", {"package.json": '{"type": "module"}', "src/app.js": ESM})
    assert _invoke(lam, "node-esm-js")[1]["file"] == "app.js"
    _create(lam, "node-cjs-ext", "lib.handler", {"lib.cjs": CJS})
    assert _invoke(lam, "node-cjs-ext")[1]["style"] == "cjs-async"


def test_callback_handlers_wait_for_the_event_loop_unless_told_not_to(lam: Any) -> None:
    _create(lam, "node-callback", "index.callback", {"index.js": CJS})
    out, body = _invoke(lam, "node-callback", LogType="Tail")
    assert body["style"] == "callback"
    log = base64.b64decode(out["LogResult"]).decode()
    assert "\tINFO\ttimer after callback" in log  # the timer ran before the invocation ended
    _create(lam, "node-nowait", "index.noWait", {"index.js": CJS})
    out, body = _invoke(lam, "node-nowait")
    assert body == {"style": "no-wait"}  # answered without waiting 5 s for the timer
    _create(lam, "node-cberr", "index.callbackError", {"index.js": CJS})
    out, body = _invoke(lam, "node-cberr")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "RangeError" and body["errorMessage"] == "out of range"


def test_context_as_aws_documents_it(lam: Any) -> None:
    _create(lam, "node-ctx", "index.context", {"index.js": CJS}, MemorySize=256, Timeout=7)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {"e": "1"}}).encode()).decode()
    out, ctx = _invoke(lam, "node-ctx", ClientContext=client_context)
    assert "FunctionError" not in out, ctx
    assert ctx["functionName"] == "node-ctx" and ctx["functionVersion"] == "$LATEST"
    assert ctx["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:node-ctx"
    assert ctx["memoryLimitInMB"] == "256" and ctx["logGroupName"] == "/aws/lambda/node-ctx"
    assert re.fullmatch(r"[0-9a-f-]{36}", ctx["awsRequestId"])
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", ctx["logStreamName"])
    assert 5_000 < ctx["remainingMs"] <= 7_000 and ctx["waits"] is True
    assert ctx["clientContext"] == {"custom": {"k": "v"}, "env": {"e": "1"}} and ctx["identity"] is None
    assert ctx["executionEnv"] == "AWS_Lambda_nodejs20.x"


def test_uncaught_errors_fail_the_invocation_and_restart_the_environment(lam: Any) -> None:
    _create(lam, "node-late", "index.late", {"index.js": CJS})
    assert _invoke(lam, "node-late")[1] == 1 and _invoke(lam, "node-late")[1] == 2
    out, body = _invoke(lam, "node-late", {"throw": True})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Error" and body["errorMessage"] == "late boom"
    assert _invoke(lam, "node-late")[1] == 1  # a new environment: module state starts again
    out, body = _invoke(lam, "node-late", {"reject": True})
    assert out["FunctionError"] == "Unhandled" and body["trace"][0] == "Runtime.UnhandledPromiseRejection: nope"
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection" and body["errorMessage"] == "nope"


def test_thrown_error_is_unhandled_in_aws_shape(lam: Any) -> None:
    _create(lam, "node-boom", "index.boom", {"index.js": CJS})
    out, body = _invoke(lam, "node-boom")
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "bad input"
    assert body["trace"][0] == "TypeError: bad input" and "index.js:" in body["trace"][1]


@pytest.mark.parametrize(("handler", "files", "error_type", "message"), [
    ("missing.handler", {"index.js": CJS}, "Runtime.ImportModuleError",
     re.compile(r"Error: Cannot find module 'missing'\nRequire stack:\n- .*bootstrap\.cjs")),
    ("index.nothere", {"index.js": CJS}, "Runtime.HandlerNotFound",
     re.compile(re.escape("index.nothere is undefined or not exported"))),
    ("index.handler", {"index.js": "exports.handler = async () => { return }};"}, "Runtime.UserCodeSyntaxError",
     re.compile(re.escape("SyntaxError: Unexpected token '}'"))),
    ("index.handler", {"index.js": "require('not-installed');"}, "Runtime.ImportModuleError",
     re.compile(r"Error: Cannot find module 'not-installed'\nRequire stack:\n- .*/index\.js\n- .*bootstrap\.cjs")),
], ids=["missing-module", "missing-handler", "syntax-error", "missing-dependency"])
def test_init_errors(lam: Any, handler: str, files: dict[str, str], error_type: str, message: re.Pattern[str],
                     request: pytest.FixtureRequest) -> None:
    name = f"node-init-{request.node.callspec.id}"
    _create(lam, name, handler, files)
    out, body = _invoke(lam, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type and message.fullmatch(body["errorMessage"]), body
    assert body["trace"][0] == f"{error_type}: {body['errorMessage'].splitlines()[0]}"


def test_async_invoke_sends_the_record_to_an_sqs_destination(lam: Any, sqs: Any, cjs_function: str) -> None:
    url = sqs.create_queue(QueueName="node-success")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(FunctionName=cjs_function,
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    out = lam.invoke(FunctionName=cjs_function, InvocationType="Event", Payload=json.dumps({"async": True}))
    assert out["StatusCode"] == 202

    def received() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])  # type: ignore[no-any-return]

    record = json.loads(wait_until(received, timeout_s=30, what="the OnSuccess record")[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"].endswith(":function:node-cjs:$LATEST")
    assert record["requestPayload"] == {"async": True}
    assert record["responsePayload"]["style"] == "cjs-async"


def _logs(server: LambdaliteProcess, name: str) -> str:
    result = subprocess.run([sys.executable, "-m", "lambdalite", "logs", name, "--data-dir", str(server.data_dir)],
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_console_lines_and_trace_id_as_aws_prints_them(lam: Any, server: LambdaliteProcess,
                                                        cjs_function: str) -> None:
    _create(lam, "node-logs", "index.logs", {"index.js": CJS})
    request_id = _invoke(lam, "node-logs")[1]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    expected = [rf"{stamp}\t{request_id}\tINFO\tinfo line {{ n: 1 }}", rf"{stamp}\t{request_id}\tERROR\terror line",
                rf"{stamp}\t{request_id}\tWARN\twarn line"]

    def logged() -> bool:
        lines = _logs(server, "node-logs").splitlines()
        return all(any(re.fullmatch(pattern, line) for line in lines) for pattern in expected)

    wait_until(logged, timeout_s=10, what="console lines in the function's log")
    first, second = _invoke(lam, cjs_function)[1]["trace"], _invoke(lam, cjs_function)[1]["trace"]
    assert first.startswith("Root=1-") and second.startswith("Root=1-") and first != second


# ---- the AWS SDK for JavaScript v3, installed into the function's zip with npm ------------------------
SDK_HANDLER = """
import { SQSClient, GetQueueUrlCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
const sqs = new SQSClient({});
export const handler = async (event, context) => {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: event.queue }));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ from: context.functionName }) }));
  return { messageId: sent.MessageId };
};
"""


@pytest.fixture(scope="module")
def sdk_modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install @aws-sdk/client-sqs")
    folder = tmp_path_factory.mktemp("node-sdk")
    (folder / "package.json").write_text('{"name": "fn", "version": "1.0.0", "private": true}')
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--cache",
                             str(folder / ".npm-cache"), "@aws-sdk/client-sqs@3"],
                            cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.skip(f"npm install @aws-sdk/client-sqs failed: {result.stderr.strip()[-500:]}")
    yield folder / "node_modules"


def test_js_sdk_v3_in_a_function_talks_to_lambdalite(lam: Any, sqs: Any, sdk_modules: Path) -> None:
    files: dict[str, str | bytes] = {"index.mjs": SDK_HANDLER}
    for path in sdk_modules.rglob("*"):
        if path.is_file() and not path.is_symlink():
            files[str(path.relative_to(sdk_modules.parent))] = path.read_bytes()
    lam.create_function(FunctionName="node-sdk", Runtime=RUNTIME, Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip(files)}, Timeout=30, MemorySize=512)
    url = sqs.create_queue(QueueName="from-node")["QueueUrl"]
    out, body = _invoke(lam, "node-sdk", {"queue": "from-node"})
    assert "FunctionError" not in out, body
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"from": "node-sdk"}]
    assert messages[0]["MessageId"] == body["messageId"]
