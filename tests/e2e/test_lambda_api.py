"""Lambda's management API against a real server with boto3 (contract sections 2 and 9)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from typing import Any

import pytest

from tests.e2e.test_lambda_helpers import (
    ROLE,
    arn,
    client_error,
    code_dirs,
    create,
    raw,
    raw_error,
)
from tests.support.server import LambdaliteProcess, module_client, module_server
from tests.support.zips import ECHO, make_zip, python_zip, symlink_zip

server = module_server("lambda", env={"LAMBDALITE_ACCOUNT_CONCURRENCY": "1000"})
lam = module_client("lambda")


def test_create_function_defaults(lam: Any) -> None:
    zipped = python_zip(ECHO)
    config = create(lam, "api-create", Environment={"Variables": {"AA": "1"}}, Description="d")
    assert config["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert config["FunctionName"] == "api-create"
    assert config["FunctionArn"] == arn("api-create")
    assert config["Timeout"] == 3 and config["MemorySize"] == 128
    assert config["PackageType"] == "Zip" and config["Architectures"] == ["x86_64"]
    assert config["State"] == "Active" and config["LastUpdateStatus"] == "Successful"
    assert config["Version"] == "$LATEST" and config["Role"] == ROLE
    assert config["Runtime"] == "python3.12" and config["Handler"] == "handler.handler"
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert config["CodeSize"] == len(zipped)
    assert config["Environment"] == {"Variables": {"AA": "1"}} and config["Description"] == "d"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", config["LastModified"])
    assert re.fullmatch(r"[0-9a-f-]{36}", config["RevisionId"])


def test_get_function_and_code_location(lam: Any) -> None:
    create(lam, "api-get")
    lam.get_waiter("function_active_v2").wait(
        FunctionName="api-get", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    got = lam.get_function(FunctionName="api-get")
    assert got["Configuration"]["FunctionName"] == "api-get"
    assert got["Code"]["RepositoryType"] == "S3"
    assert "Concurrency" not in got
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as r:
        assert r.read() == python_zip(ECHO)
    conf = lam.get_function_configuration(FunctionName=arn("api-get"))
    assert conf["FunctionArn"] == arn("api-get")
    partial = lam.get_function_configuration(FunctionName="000000000000:function:api-get")
    assert partial["RevisionId"] == conf["RevisionId"]


def test_create_conflict(lam: Any) -> None:
    create(lam, "api-dup")
    client_error(
        lambda: create(lam, "api-dup"), 409, "ResourceConflictException", "Function already exist: api-dup"
    )


def test_missing_function_messages(lam: Any, server: LambdaliteProcess) -> None:
    client_error(
        lambda: lam.get_function(FunctionName="nope"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('nope')}",
    )
    client_error(
        lambda: lam.get_function(FunctionName="nope", Qualifier="3"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('nope', '3')}",
    )
    client_error(lambda: lam.delete_function(FunctionName="nope"), 404, "ResourceNotFoundException")
    body = raw_error(server, "GET", "/2015-03-31/functions/nope", None, 404, "ResourceNotFoundException")
    assert body == {"Type": "User", "Message": f"Function not found: {arn('nope')}"}


def _assert_not_created(lam: Any, server: LambdaliteProcess, name: str, dirs_before: list[str]) -> None:
    client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")
    assert code_dirs(server) == dirs_before


def test_bad_names(lam: Any, server: LambdaliteProcess) -> None:
    before = code_dirs(server)
    long_name = "a" * 65
    client_error(
        lambda: create(lam, long_name),
        400,
        "ValidationException",
        f"1 validation error detected: Value '{long_name}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
    )
    body = raw_error(
        server,
        "POST",
        "/2015-03-31/functions",
        json.dumps(
            {
                "FunctionName": "bad name!",
                "Role": ROLE,
                "Runtime": "python3.12",
                "Handler": "h.h",
                "Code": {"ZipFile": base64.b64encode(python_zip(ECHO)).decode()},
            }
        ).encode(),
        400,
        "ValidationException",
    )
    assert "Type" not in body
    assert body["Message"].startswith(
        "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    )
    _assert_not_created(lam, server, "a" * 64, before)


def test_unknown_runtime(lam: Any, server: LambdaliteProcess) -> None:
    before = code_dirs(server)
    err = client_error(
        lambda: create(lam, "api-rt", Runtime="nodejs14.x"), 400, "InvalidParameterValueException"
    )
    message = err["Error"]["Message"]
    assert message.startswith(
        "Value nodejs14.x at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["
    )
    assert "python3.12" in message and "provided.al2023" in message and message.endswith("or be a valid ARN")
    _assert_not_created(lam, server, "api-rt", before)


@pytest.mark.parametrize(
    ("zipped", "message"),
    [
        (
            b"this is not a zip",
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (make_zip({"../escape.py": "x"}), None),
        (make_zip({"/abs.py": "x"}), None),
    ],
)
def test_bad_zips(lam: Any, server: LambdaliteProcess, zipped: bytes, message: str | None) -> None:
    before = code_dirs(server)
    err = client_error(
        lambda: lam.create_function(
            FunctionName="api-zip", Runtime="python3.12", Role=ROLE, Handler="h.h", Code={"ZipFile": zipped}
        ),
        400,
        "InvalidParameterValueException",
        message,
    )
    assert err["Error"]["Message"].startswith("Could not unzip uploaded file.")
    _assert_not_created(lam, server, "api-zip", before)


def test_symlink_zip_refused(lam: Any, server: LambdaliteProcess) -> None:
    before = code_dirs(server)
    client_error(
        lambda: lam.create_function(
            FunctionName="api-link",
            Runtime="python3.12",
            Role=ROLE,
            Handler="h.h",
            Code={"ZipFile": symlink_zip("handler.py", "/etc/passwd")},
        ),
        400,
        "InvalidParameterValueException",
    )
    _assert_not_created(lam, server, "api-link", before)


def test_oversized_zip(lam: Any, server: LambdaliteProcess) -> None:
    before = code_dirs(server)
    body = {
        "FunctionName": "api-big",
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "h.h",
        "Code": {"ZipFile": base64.b64encode(b"\0" * 52_428_801).decode()},
    }
    got = raw_error(
        server,
        "POST",
        "/2015-03-31/functions",
        json.dumps(body).encode(),
        413,
        "RequestEntityTooLargeException",
    )
    assert got == {"Type": "User", "message": "Zipped size must be smaller than 52428800 bytes"}
    _assert_not_created(lam, server, "api-big", before)


def test_bad_requests(server: LambdaliteProcess) -> None:
    body = raw_error(
        server, "POST", "/2015-03-31/functions", b"{not json", 400, "InvalidRequestContentException"
    )
    assert body["message"].startswith("Could not parse request body into json:")
    typed: dict[str, Any] = {
        "FunctionName": "api-types",
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "h.h",
        "Timeout": "ten",
        "Code": {"ZipFile": base64.b64encode(python_zip(ECHO)).decode()},
    }
    raw_error(
        server,
        "POST",
        "/2015-03-31/functions",
        json.dumps(typed).encode(),
        400,
        "InvalidRequestContentException",
    )
    typed["Timeout"] = 901
    body = raw_error(
        server, "POST", "/2015-03-31/functions", json.dumps(typed).encode(), 400, "ValidationException"
    )
    assert "Member must have value less than or equal to 900" in body["Message"]
    raw_error(server, "GET", "/2015-03-31/nothing-here", None, 404, "UnknownOperationException")
    raw_error(server, "PATCH", "/2015-03-31/functions/x", b"{}", 405, "MethodNotAllowedException")
    status, _, _ = raw(server, "GET", "/2015-03-31/functions/api-types")
    assert status == 404


def test_update_configuration_and_code(lam: Any) -> None:
    first = create(lam, "api-upd")
    updated = lam.update_function_configuration(
        FunctionName="api-upd",
        Timeout=10,
        MemorySize=256,
        Environment={"Variables": {"KK": "v"}},
        Description="new",
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
    )
    assert updated["Timeout"] == 10 and updated["MemorySize"] == 256
    assert updated["Environment"] == {"Variables": {"KK": "v"}}
    assert updated["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert updated["RevisionId"] != first["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="api-upd", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    new_zip = python_zip("def handler(e, c):\n    return 2\n")
    code = lam.update_function_code(FunctionName="api-upd", ZipFile=new_zip)
    assert code["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert code["RevisionId"] != updated["RevisionId"] and code["Timeout"] == 10
    client_error(
        lambda: lam.update_function_configuration(FunctionName="api-upd", RevisionId="stale", Timeout=5),
        412,
        "PreconditionFailedException",
    )
    client_error(
        lambda: lam.update_function_configuration(FunctionName="api-upd", Runtime="java8"),
        400,
        "InvalidParameterValueException",
    )
    assert lam.get_function_configuration(FunctionName="api-upd")["Timeout"] == 10
    published = lam.update_function_code(FunctionName="api-upd", ZipFile=python_zip(ECHO), Publish=True)
    assert published["Version"] == "1" and published["FunctionArn"] == arn("api-upd", "1")


def test_versions(lam: Any) -> None:
    created = create(lam, "api-ver", Publish=True)
    assert created["Version"] == "1" and created["FunctionArn"] == arn("api-ver")
    again = lam.publish_version(FunctionName="api-ver")
    assert again["Version"] == "1"  # nothing changed since version 1
    lam.update_function_configuration(FunctionName="api-ver", Timeout=7)
    two = lam.publish_version(FunctionName="api-ver", Description="second")
    assert two["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert two["Version"] == "2" and two["Timeout"] == 7 and two["Description"] == "second"
    listed = lam.list_versions_by_function(FunctionName="api-ver")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert lam.get_function(FunctionName="api-ver", Qualifier="1")["Configuration"]["Timeout"] == 3
    assert lam.get_function(FunctionName="api-ver:2")["Configuration"]["FunctionArn"] == arn("api-ver", "2")
    page = lam.list_versions_by_function(FunctionName="api-ver", MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    rest = lam.list_versions_by_function(FunctionName="api-ver", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"] and "NextMarker" not in rest
    client_error(
        lambda: lam.delete_function(FunctionName="api-ver", Qualifier="$LATEST"),
        400,
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )
    lam.delete_function(FunctionName="api-ver", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="api-ver")["Versions"]] == [
        "$LATEST",
        "2",
    ]
    client_error(
        lambda: lam.get_function(FunctionName="api-ver", Qualifier="1"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('api-ver', '1')}",
    )
    client_error(
        lambda: lam.get_function(FunctionName="api-ver:1", Qualifier="2"),
        400,
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )


def test_aliases(lam: Any) -> None:
    create(lam, "api-alias", Publish=True)
    alias = lam.create_alias(FunctionName="api-alias", Name="live", FunctionVersion="1", Description="prod")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == arn("api-alias", "live") and alias["FunctionVersion"] == "1"
    client_error(
        lambda: lam.create_alias(FunctionName="api-alias", Name="live", FunctionVersion="1"),
        409,
        "ResourceConflictException",
        f"Alias already exists: {arn('api-alias', 'live')}",
    )
    client_error(
        lambda: lam.create_alias(FunctionName="api-alias", Name="x", FunctionVersion="9"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('api-alias', '9')}",
    )
    client_error(
        lambda: lam.create_alias(FunctionName="api-alias", Name="123", FunctionVersion="1"),
        400,
        "ValidationException",
    )
    client_error(
        lambda: lam.create_alias(
            FunctionName="api-alias",
            Name="w",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        ),
        400,
        "InvalidParameterValueException",
    )
    assert lam.get_alias(FunctionName="api-alias", Name="live")["Description"] == "prod"
    updated = lam.update_alias(FunctionName="api-alias", Name="live", FunctionVersion="$LATEST")
    assert updated["FunctionVersion"] == "$LATEST" and updated["RevisionId"] != alias["RevisionId"]
    lam.create_alias(FunctionName="api-alias", Name="beta", FunctionVersion="1")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="api-alias")["Aliases"]] == ["beta", "live"]
    assert [
        a["Name"] for a in lam.list_aliases(FunctionName="api-alias", FunctionVersion="1")["Aliases"]
    ] == ["beta"]
    client_error(
        lambda: lam.delete_function(FunctionName="api-alias", Qualifier="1"), 409, "ResourceConflictException"
    )
    got = lam.get_function(FunctionName="api-alias", Qualifier="live")["Configuration"]
    assert got["FunctionArn"] == arn("api-alias", "live")
    lam.delete_alias(FunctionName="api-alias", Name="beta")
    client_error(
        lambda: lam.get_alias(FunctionName="api-alias", Name="beta"),
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn('api-alias', 'beta')}",
    )
    client_error(
        lambda: lam.update_alias(FunctionName="api-alias", Name="beta", FunctionVersion="1"),
        404,
        "ResourceNotFoundException",
    )


def test_concurrency_and_account_settings(lam: Any) -> None:
    create(lam, "api-conc")
    before = lam.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert lam.get_function_concurrency(FunctionName="api-conc").get("ReservedConcurrentExecutions") is None
    put = lam.put_function_concurrency(FunctionName="api-conc", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName="api-conc")["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName="api-conc")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = lam.get_account_settings()
    unreserved = before["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after["AccountLimit"]["UnreservedConcurrentExecutions"] == unreserved - 5
    assert after["AccountUsage"]["FunctionCount"] >= 1
    client_error(
        lambda: lam.put_function_concurrency(FunctionName="api-conc", ReservedConcurrentExecutions=901),
        400,
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].",
    )
    lam.delete_function_concurrency(FunctionName="api-conc")
    assert "Concurrency" not in lam.get_function(FunctionName="api-conc")
    client_error(
        lambda: lam.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1),
        404,
        "ResourceNotFoundException",
    )


def test_recursion_config(lam: Any) -> None:
    create(lam, "api-rec")
    assert lam.get_function_recursion_config(FunctionName="api-rec")["RecursiveLoop"] == "Terminate"
    assert (
        lam.put_function_recursion_config(FunctionName="api-rec", RecursiveLoop="Allow")["RecursiveLoop"]
        == "Allow"
    )
    assert lam.get_function_recursion_config(FunctionName="api-rec")["RecursiveLoop"] == "Allow"
    client_error(
        lambda: lam.put_function_recursion_config(FunctionName="api-rec", RecursiveLoop="Maybe"),
        400,
        "ValidationException",
    )


def test_list_functions_paging(lam: Any) -> None:
    for i in range(3):
        create(lam, f"api-list-{i}", Publish=True)
    names: list[str] = []
    marker = None
    while True:
        kwargs = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = lam.list_functions(**kwargs)
        names += [f["FunctionName"] for f in page["Functions"]]
        assert len(page["Functions"]) <= 2
        marker = page.get("NextMarker")
        if not marker:
            break
    assert {"api-list-0", "api-list-1", "api-list-2"} <= set(names)
    assert len(names) == len(set(names))
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    arns = {f["FunctionArn"] for f in every}
    assert arn("api-list-0", "$LATEST") in arns and arn("api-list-0", "1") in arns


def test_delete_leaves_nothing(lam: Any, server: LambdaliteProcess) -> None:
    before = code_dirs(server)
    source = "def handler(e, c):\n    return 'unique-to-delete-test'\n"
    create(lam, "api-del", source=source, Publish=True)
    lam.create_alias(FunctionName="api-del", Name="a", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="api-del", ReservedConcurrentExecutions=2)
    assert code_dirs(server) != before
    response = lam.delete_function(FunctionName="api-del")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code_dirs(server) == before
    client_error(lambda: lam.get_function(FunctionName="api-del"), 404, "ResourceNotFoundException")
    client_error(lambda: lam.get_alias(FunctionName="api-del", Name="a"), 404, "ResourceNotFoundException")
    recreated = create(lam, "api-del", source=source)
    assert recreated["Version"] == "$LATEST"
    assert lam.get_function_concurrency(FunctionName="api-del").get("ReservedConcurrentExecutions") is None
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="api-del")["Versions"]] == [
        "$LATEST"
    ]
