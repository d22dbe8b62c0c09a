"""The operations Terraform's AWS provider needs beyond the basics, with boto3: Lambda tags, resource
policies (AWS's statement shape and errors), code signing config reads, EventBridge tags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import module_client, module_server
from tests.support.zips import ECHO, python_zip

server = module_server("terraform-apis")
lam = module_client("lambda")
events = module_client("events")
ROLE = "arn:aws:iam::000000000000:role/lambda"


def _create(lam: Any, name: str, **kw: Any) -> str:
    out = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                              Code={"ZipFile": python_zip(ECHO)}, **kw)
    return str(out["FunctionArn"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_function_tags(lam: Any) -> None:
    arn = _create(lam, "tagged", Tags={"a": "1"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1"}
    lam.tag_resource(Resource=arn, Tags={"b": "2", "a": "3"})
    lam.untag_resource(Resource=arn, TagKeys=["b"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "3"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"a": "3"}
    lam.delete_function(FunctionName="tagged")
    _create(lam, "tagged")
    assert "Tags" not in lam.get_function(FunctionName="tagged")
    with pytest.raises(ClientError) as exc:
        lam.list_tags(Resource=arn.replace("tagged", "nope"))
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_resource_policy(lam: Any) -> None:
    arn = _create(lam, "policed")
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName="policed")
    assert _error(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.")
    added = lam.add_permission(FunctionName="policed", StatementId="s1", Action="lambda:InvokeFunction",
                               Principal="events.amazonaws.com",
                               SourceArn="arn:aws:events:us-east-1:000000000000:rule/r")
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s1", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:000000000000:rule/r"}},
    }
    with pytest.raises(ClientError) as exc:
        lam.add_permission(FunctionName="policed", StatementId="s1", Action="lambda:InvokeFunction",
                           Principal="sqs.amazonaws.com")
    assert _error(exc) == ("ResourceConflictException", "The statement id (s1) provided already exists. Please "
                           "provide a new statement id, or remove the existing statement.")
    lam.add_permission(FunctionName="policed", StatementId="s2", Action="lambda:GetFunction", Principal="123456789012")
    got = lam.get_policy(FunctionName="policed")
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["s1", "s2"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    with pytest.raises(ClientError) as exc:
        lam.remove_permission(FunctionName="policed", StatementId="s9")
    assert _error(exc) == ("ResourceNotFoundException", "Statement s9 is not found in resource policy.")
    with pytest.raises(ClientError) as exc:
        lam.remove_permission(FunctionName="policed", StatementId="s1", RevisionId="stale")
    assert _error(exc)[0] == "PreconditionFailedException"
    lam.remove_permission(FunctionName="policed", StatementId="s1")
    lam.remove_permission(FunctionName="policed", StatementId="s2")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName="policed")
    with pytest.raises(ClientError) as exc:
        lam.add_permission(FunctionName="policed", StatementId="s3", Action="lambda:Invoke", Principal="*",
                           Qualifier="nope")
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_code_signing_config(lam: Any) -> None:
    _create(lam, "unsigned")
    assert lam.get_function_code_signing_config(FunctionName="unsigned")["CodeSigningConfigArn"] == ""
    with pytest.raises(ClientError) as exc:
        lam.get_function_code_signing_config(FunctionName="missing")
    assert _error(exc)[0] == "ResourceNotFoundException"
    assert lam.list_code_signing_configs()["CodeSigningConfigs"] == []
    arn = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as exc:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert _error(exc) == ("ResourceNotFoundException", f"Code signing configuration {arn} does not exist.")


def test_eventbridge_tags(events: Any) -> None:
    bus_arn = events.create_event_bus(Name="tagbus", Tags=[{"Key": "k", "Value": "v"}])["EventBusArn"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    rule_arn = events.put_rule(Name="r", EventBusName="tagbus", EventPattern='{"source":["x"]}')["RuleArn"]
    events.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "a", "Value": "b"}, {"Key": "c", "Value": "d"}])
    events.untag_resource(ResourceARN=rule_arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "c", "Value": "d"}]
    with pytest.raises(ClientError) as exc:
        events.list_tags_for_resource(ResourceARN=bus_arn.replace("tagbus", "nobus"))
    assert _error(exc) == ("ResourceNotFoundException", "Event bus nobus does not exist.")
