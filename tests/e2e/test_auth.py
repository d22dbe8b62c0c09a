"""SigV4 authentication with credentials configured: refused requests get each service's AWS error; boto3,
the AWS CLI v1/v2 and functions' own SDK calls with the right keys pass; functions never see the server's
own keys; `serve` will not listen off loopback without credentials unless told --insecure."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.awscli import run_cli
from tests.support.server import LambdaliteProcess, free_port, module_server, wait_until
from tests.support.zips import python_zip

KEY, SECRET = "AKIDLAMBDALITETEST01", "s3cr3t/Key+For=Tests0000000000000000000"
OTHER_KEY, OTHER_SECRET = "AKIDSECONDACCOUNT001", "another-secret-of-forty-characters-00000"
SERVER_OWN_SECRET = "the-server-processes-own-secret-never-for-functions"
ENV = {
    "LAMBDALITE_CREDENTIALS": f"{KEY}:{SECRET},{OTHER_KEY}:{OTHER_SECRET}:111111111111",
    "AWS_ACCESS_KEY_ID": "AKIDSERVEROWNKEY0001",  # the server process's own keys: functions must not see them
    "AWS_SECRET_ACCESS_KEY": SERVER_OWN_SECRET,
    # A function here lists functions with its minted keys: the control plane, which functions get only
    # when asked for (tests/e2e/test_function_access.py pins the default: the data plane alone).
    "LAMBDALITE_FUNCTION_API": "all",
}
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."
ROLE = "arn:aws:iam::000000000000:role/sdk-caller"

srv = module_server("auth", env=ENV)


def client(server: LambdaliteProcess, service: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60))


def raw(server: LambdaliteProcess, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(server.endpoint + path, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# One cheap call per service, and what each service calls its auth errors.
CALLS = {
    "lambda": lambda c: c.list_functions(),
    "sqs": lambda c: c.list_queues(),
    "events": lambda c: c.list_event_buses(),
}
UNKNOWN_KEY_CODE = {"lambda": "UnrecognizedClientException", "sqs": "InvalidClientTokenId",
                    "events": "UnrecognizedClientException"}
BAD_SIGNATURE_CODE = {"lambda": "InvalidSignatureException", "sqs": "SignatureDoesNotMatch",
                      "events": "InvalidSignatureException"}


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return dict(caught.value.response)


@pytest.mark.parametrize("service", ["lambda", "sqs", "events"])
def test_right_keys_pass_and_wrong_secret_or_unknown_key_is_refused(srv: LambdaliteProcess, service: str) -> None:
    CALLS[service](client(srv, service))
    CALLS[service](client(srv, service, OTHER_KEY, OTHER_SECRET))
    wrong = _refused(lambda: CALLS[service](client(srv, service, KEY, "not-the-secret")))
    assert wrong["Error"]["Code"] == BAD_SIGNATURE_CODE[service]
    assert wrong["Error"]["Message"] == SIGNATURE_MISMATCH
    unknown = _refused(lambda: CALLS[service](client(srv, service, "AKIDNOBODYKNOWS00000", SECRET)))
    assert unknown["Error"]["Code"] == UNKNOWN_KEY_CODE[service]
    assert unknown["Error"]["Message"] == INVALID_TOKEN
    assert unknown["ResponseMetadata"]["HTTPStatusCode"] == (400 if service == "events" else 403)


def test_unsigned_requests_are_refused_in_each_protocol(srv: LambdaliteProcess) -> None:
    status, headers, body = raw(srv, "GET", "/2015-03-31/functions/")
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    assert json.loads(body) == {"message": "Missing Authentication Token"}

    status, headers, body = raw(srv, "POST", "/", b"{}", {"X-Amz-Target": "AmazonSQS.ListQueues",
                                                         "Content-Type": "application/x-amz-json-1.0"})
    assert (status, headers["x-amzn-query-error"]) == (403, "MissingAuthenticationToken;Sender")
    assert json.loads(body)["__type"].endswith("#MissingAuthenticationTokenException")

    status, _, body = raw(srv, "POST", "/", b"Action=ListQueues&Version=2012-11-05",
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in body and b"<Type>Sender</Type>" in body

    status, _, body = raw(srv, "POST", "/", b"{}", {"X-Amz-Target": "AWSEvents.ListEventBuses",
                                                   "Content-Type": "application/x-amz-json-1.1"})
    assert status == 403
    assert json.loads(body) == {"__type": "MissingAuthenticationTokenException",
                                "message": "Missing Authentication Token"}


def test_garbage_authorization_header_is_an_incomplete_signature(srv: LambdaliteProcess) -> None:
    status, headers, body = raw(srv, "GET", "/2015-03-31/functions/", headers={"Authorization": "garbage"})
    assert (status, headers["x-amzn-errortype"]) == (403, "IncompleteSignatureException")
    assert json.loads(body)["message"].startswith("Authorization header requires 'Credential' parameter.")
    status, headers, body = raw(srv, "POST", "/", b"{}", {"X-Amz-Target": "AmazonSQS.ListQueues",
                                                         "Authorization": "Bearer abc"})
    assert (status, headers["x-amzn-query-error"]) == (400, "IncompleteSignature;Sender")


@pytest.fixture
def clock_offset(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sign as if this machine's clock were off by the given offset (botocore reads it per request)."""
    real = botocore.auth.get_current_datetime

    def set_offset(offset: datetime.timedelta) -> None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real(*a, **k) + offset)

    yield set_offset


@pytest.mark.parametrize("service", ["lambda", "sqs"])
def test_a_skewed_clock_is_refused_with_aws_wording(srv: LambdaliteProcess, clock_offset: Any, service: str) -> None:
    CALLS[service](client(srv, service))
    clock_offset(datetime.timedelta(minutes=-6))
    late = _refused(lambda: CALLS[service](client(srv, service)))
    assert late["Error"]["Code"] == BAD_SIGNATURE_CODE[service]
    assert late["Error"]["Message"].startswith("Signature expired: ")
    assert " is now earlier than " in late["Error"]["Message"] and late["Error"]["Message"].endswith(" - 5 min.)")
    clock_offset(datetime.timedelta(minutes=6))
    early = _refused(lambda: CALLS[service](client(srv, service)))
    assert early["Error"]["Message"].startswith("Signature not yet current: ")
    clock_offset(datetime.timedelta(minutes=-4))  # within AWS's five minutes
    CALLS[service](client(srv, service))


def test_presigned_url_works_until_it_expires(srv: LambdaliteProcess, clock_offset: Any) -> None:
    url = client(srv, "lambda").generate_presigned_url("list_functions", ExpiresIn=120)
    status, _, body = raw(srv, "GET", url.removeprefix(srv.endpoint))
    assert status == 200 and "Functions" in json.loads(body)
    tampered = url.replace("X-Amz-Expires=120", "X-Amz-Expires=600")
    status, headers, _ = raw(srv, "GET", tampered.removeprefix(srv.endpoint))
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    clock_offset(datetime.timedelta(seconds=-180))
    stale = client(srv, "lambda").generate_presigned_url("list_functions", ExpiresIn=120)
    status, headers, body = raw(srv, "GET", stale.removeprefix(srv.endpoint))
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert json.loads(body) == {"message": "Request has expired"}


@pytest.mark.parametrize("version", [1, 2])
def test_aws_cli_with_right_and_wrong_keys(srv: LambdaliteProcess, tmp_path: Path, version: int) -> None:
    for args in (["lambda", "list-functions"], ["sqs", "list-queues"], ["events", "list-event-buses"]):
        run_cli(version, srv.endpoint, args, cwd=tmp_path, keys=(KEY, SECRET))
        wrong = run_cli(version, srv.endpoint, args, cwd=tmp_path, keys=(KEY, "wrong"), check=False)
        assert wrong.returncode != 0
        assert ("InvalidSignatureException" if args[0] != "sqs" else "SignatureDoesNotMatch") in wrong.stderr


HANDLER = """
import json
import os

import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"from": context.function_name}))
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    seen = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and ("KEY" in k or "TOKEN" in k)}
    return {"functions": names, "env": seen}
"""


def test_a_function_calls_sqs_and_lambda_with_its_own_minted_keys(srv: LambdaliteProcess) -> None:
    sqs, lam = client(srv, "sqs"), client(srv, "lambda")
    url = sqs.create_queue(QueueName="auth-from-function")["QueueUrl"]
    lam.create_function(FunctionName="auth-sdk-user", Runtime="python3.11", Handler="handler.handler", Role=ROLE,
                        Code={"ZipFile": python_zip(HANDLER)}, Timeout=30)
    out = lam.invoke(FunctionName="auth-sdk-user", Payload=json.dumps({"queue": "auth-from-function"}))
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    assert "auth-sdk-user" in payload["functions"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"from": "auth-sdk-user"}]
    seen = payload["env"]
    assert SERVER_OWN_SECRET not in json.dumps(payload)
    assert seen["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(seen["AWS_ACCESS_KEY_ID"]) == 20
    assert seen["AWS_SESSION_TOKEN"]
    # GetFunction's Code.Location is presigned (as AWS's S3 URL is): it downloads; bare, it is refused.
    location = lam.get_function(FunctionName="auth-sdk-user")["Code"]["Location"]
    status, _, body = raw(srv, "GET", location.removeprefix(srv.endpoint))
    assert status == 200 and body == python_zip(HANDLER)
    assert raw(srv, "GET", location.removeprefix(srv.endpoint).split("?")[0])[0] == 403
    # The minted key without its session token is nobody's key.
    bare = client(srv, "sqs", seen["AWS_ACCESS_KEY_ID"], seen["AWS_SECRET_ACCESS_KEY"])
    assert _refused(lambda: bare.list_queues())["Error"]["Code"] == "InvalidClientTokenId"


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAMBDALITE_CREDENTIALS")}
    cmd = [sys.executable, "-m", "lambdalite", "serve", "--data-dir", str(tmp_path / "data"), *args]
    log = open(tmp_path / "serve.log", "w+b")  # noqa: SIM115 - a file, not a pipe nobody drains while it runs
    return subprocess.Popen(cmd, env={**clean, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True)


def _exit_and_stderr(proc: subprocess.Popen[bytes], tmp_path: Path) -> tuple[int, str]:
    returncode = proc.wait(timeout=30)
    return returncode, (tmp_path / "serve.log").read_text()


def test_serve_refuses_a_public_address_without_credentials(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    returncode, stderr = _exit_and_stderr(proc, tmp_path)
    assert returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "non-loopback" in lines[0] and "--insecure" in lines[0], lines


def test_serve_refuses_an_unreadable_credentials_file(tmp_path: Path) -> None:
    bad = tmp_path / "keys"
    bad.write_text("AKIDONLY\n")
    proc = _serve(tmp_path, "--credentials-file", str(bad), "--port", str(free_port()))
    returncode, stderr = _exit_and_stderr(proc, tmp_path)
    assert returncode == 2
    assert stderr.strip() == f"lambdalite: {bad}:1: expected ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]"


@pytest.mark.parametrize("mode", ["insecure", "credentials-file"])
def test_serve_on_a_public_address_with_insecure_or_credentials(tmp_path: Path, mode: str) -> None:
    port = free_port()
    keys = tmp_path / "keys"
    keys.write_text(f"# lambdalite access keys\n{KEY} {SECRET}\n\n{OTHER_KEY} {OTHER_SECRET} 111111111111\n")
    extra = ["--insecure"] if mode == "insecure" else ["--credentials-file", str(keys)]
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), *extra)
    server = LambdaliteProcess(tmp_path / "data", port=port)
    try:
        wait_until(lambda: proc.poll() is not None or _healthy(server), timeout_s=30, what="serve on 0.0.0.0")
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        unsigned, _, _ = raw(server, "GET", "/2015-03-31/functions/")
        assert unsigned == (200 if mode == "insecure" else 403)
        CALLS["lambda"](client(server, "lambda", OTHER_KEY, OTHER_SECRET))
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def _healthy(server: LambdaliteProcess) -> bool:
    try:
        with urllib.request.urlopen(server.endpoint + "/_lambdalite/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


TF_PLUGINS = Path("/opt/tf-plugins")
TF_MAIN = """
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "{key}"
  secret_key                  = "{secret}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {{
    lambda = "{endpoint}"
    sqs    = "{endpoint}"
    events = "{endpoint}"
  }}
}}
data "aws_lambda_functions" "all" {{}}
data "aws_sqs_queues" "all" {{}}
data "aws_cloudwatch_event_bus" "default" {{ name = "default" }}
output "bus" {{ value = data.aws_cloudwatch_event_bus.default.arn }}
"""


def test_terraform_signs_for_lambda_sqs_and_events(srv: LambdaliteProcess, tmp_path: Path) -> None:
    """The AWS provider (Go SDK v2) signs its own way: right keys read all three services, a wrong secret none."""
    terraform = subprocess.run(["which", "terraform"], capture_output=True, text=True).stdout.strip()
    if not terraform or not TF_PLUGINS.is_dir():
        pytest.skip("terraform and its AWS provider mirror (/opt/tf-plugins) are not installed")
    (tmp_path / "tfrc").write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{TF_PLUGINS}"\n'
                                   '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n')
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(tmp_path / "tfrc"), "TF_IN_AUTOMATION": "1"}

    def apply(secret: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "main.tf").write_text(TF_MAIN.format(key=KEY, secret=secret, endpoint=srv.endpoint))
        return subprocess.run([terraform, "apply", "-auto-approve", "-input=false", "-no-color"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    (tmp_path / "main.tf").write_text(TF_MAIN.format(key=KEY, secret=SECRET, endpoint=srv.endpoint))
    init = subprocess.run([terraform, "init", "-input=false", "-no-color"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    right = apply(SECRET)
    assert srv.healthy(), srv.log_text()[-3000:]
    assert right.returncode == 0, right.stderr
    assert 'bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"' in right.stdout
    wrong = apply("wrong")
    assert wrong.returncode != 0
    for refused in ("Lambda: ListFunctions", "SQS: ListQueues", "EventBridge: DescribeEventBus"):
        assert refused in wrong.stderr, wrong.stderr
    assert wrong.stderr.count("The request signature we calculated does not match") >= 3
