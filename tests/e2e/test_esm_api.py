"""The event source mapping API: shapes, states, validation errors, listing, tags; boto3 and AWS CLI v2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.esm_support import create_consumer, create_queue, queue_arn, unique, wait_enabled
from tests.support.awscli import cli_json
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

server = module_server("esm-api")
lam = module_client("lambda")
sqs = module_client("sqs")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


@pytest.fixture
def pair(lam: Any, sqs: Any, tmp_path: Path) -> tuple[str, str]:
    """(queue ARN, function name), a fresh pair."""
    name = unique("api")
    create_queue(sqs, name)
    create_consumer(lam, name, tmp_path / "r.jsonl")
    return queue_arn(name), name


def test_create_shape_and_states(lam: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    body = {k: v for k, v in created.items() if k != "ResponseMetadata"}
    assert list(body) == ["UUID", "BatchSize", "MaximumBatchingWindowInSeconds", "EventSourceArn", "FunctionArn",
                          "LastModified", "State", "StateTransitionReason", "FunctionResponseTypes",
                          "EventSourceMappingArn"]
    assert UUID.fullmatch(body["UUID"])
    assert body["BatchSize"] == 10 and body["MaximumBatchingWindowInSeconds"] == 0
    assert body["State"] == "Creating" and body["StateTransitionReason"] == "USER_INITIATED"
    assert body["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fn}"
    assert body["EventSourceMappingArn"] == f"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{body['UUID']}"
    assert body["FunctionResponseTypes"] == []
    got = wait_enabled(lam, body["UUID"])
    assert got["LastModified"] == body["LastModified"]


def test_optional_members_and_qualifier(lam: Any, sqs: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    lam.publish_version(FunctionName=fn)
    pattern = json.dumps({"body": {"a": [1]}})
    created = lam.create_event_source_mapping(
        EventSourceArn=source, FunctionName=f"{fn}:1", BatchSize=50, MaximumBatchingWindowInSeconds=2,
        FilterCriteria={"Filters": [{"Pattern": pattern}]}, ScalingConfig={"MaximumConcurrency": 5},
        FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False)
    assert created["FunctionArn"].endswith(f":function:{fn}:1")
    assert created["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert created["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    wait_enabled(lam, created["UUID"], "Disabled")
    updated = lam.update_event_source_mapping(UUID=created["UUID"], FilterCriteria={}, ScalingConfig={})
    assert updated["State"] == "Updating"
    assert "FilterCriteria" not in updated and "ScalingConfig" not in updated


def _refused(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error_of(exc)


def test_validation_errors(lam: Any, sqs: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    create = lam.create_event_source_mapping
    assert _refused(create, EventSourceArn=source, FunctionName=fn, BatchSize=10001) == (
        400, "ValidationException", "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000")
    assert _refused(create, EventSourceArn=source, FunctionName=fn, BatchSize=11) == (
        400, "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    assert _refused(create, EventSourceArn=source, FunctionName=fn,
                    FilterCriteria={"Filters": [{"Pattern": "{not json"}]}) == (
        400, "InvalidParameterValueException", "Invalid filter pattern definition.")
    assert _refused(create, EventSourceArn=source, FunctionName=fn,
                    DestinationConfig={"OnFailure": {"Destination": source}}) == (
        400, "InvalidParameterValueException", "Unsupported DestinationConfig parameter for given event source mapping type.")
    assert _refused(create, EventSourceArn=source, FunctionName="no-such-fn") == (
        400, "InvalidParameterValueException", "Function does not exist")
    assert _refused(create, EventSourceArn=queue_arn("no-such-queue"), FunctionName=fn) == (
        400, "InvalidParameterValueException",
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
        "SQS Error Message: The specified queue does not exist.")
    assert _refused(create, EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s", FunctionName=fn)[2] == (
        "Unrecognized event source.")
    assert _refused(create, EventSourceArn=queue_arn("f.fifo"), FunctionName=fn,
                    MaximumBatchingWindowInSeconds=1) == (
        400, "InvalidParameterValueException", "Batching window is not supported for FIFO queues")


def test_visibility_shorter_than_function_timeout(lam: Any, sqs: Any, tmp_path: Path) -> None:
    name = unique("vis")
    create_queue(sqs, name, VisibilityTimeout="30")
    create_consumer(lam, name, tmp_path / "r.jsonl", timeout_s=60)
    assert _refused(lam.create_event_source_mapping, EventSourceArn=queue_arn(name), FunctionName=name) == (
        400, "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")


def test_conflict_names_the_existing_mapping(lam: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    first = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn)
    assert _refused(lam.create_event_source_mapping, EventSourceArn=source, FunctionName=fn) == (
        409, "ResourceConflictException",
        f'An event source mapping with SQS arn (" {source} ") and function (" {fn} ") already exists. '
        f"Please update or delete the existing mapping with UUID {first['UUID']}")


def test_missing_mapping_and_delete_lifecycle(lam: Any, pair: tuple[str, str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        assert _refused(call, UUID=missing) == (404, "ResourceNotFoundException",
                                                "The resource you requested does not exist.")
    source, fn = pair
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn)
    deleted = lam.delete_event_source_mapping(UUID=created["UUID"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    wait_until(lambda: _gone(lam, created["UUID"]), timeout_s=10, what="the mapping gone")


def _gone(lam: Any, uuid_: str) -> bool:
    try:
        lam.get_event_source_mapping(UUID=uuid_)
    except ClientError as err:
        return bool(err.response["Error"]["Code"] == "ResourceNotFoundException")
    return False


def test_list_filters_and_pages(lam: Any, sqs: Any, tmp_path: Path) -> None:
    fn = unique("lst")
    create_consumer(lam, fn, tmp_path / "r.jsonl")
    queues = [unique("lq") for _ in range(3)]
    made = []
    for q in queues:
        create_queue(sqs, q)
        made.append(lam.create_event_source_mapping(EventSourceArn=queue_arn(q), FunctionName=fn)["UUID"])
    by_function = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert sorted(m["UUID"] for m in by_function) == sorted(made)
    by_queue = lam.list_event_source_mappings(EventSourceArn=queue_arn(queues[1]))["EventSourceMappings"]
    assert [m["UUID"] for m in by_queue] == [made[1]]
    seen, marker = [], None
    while True:
        page = lam.list_event_source_mappings(FunctionName=fn, MaxItems=2, **({"Marker": marker} if marker else {}))
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == sorted(made)


def test_tags_of_a_mapping(lam: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn, Tags={"team": "a"})
    arn = created["EventSourceMappingArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=arn, Tags={"env": "dev"})
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}


def test_aws_cli_v2(server: LambdaliteProcess, sqs: Any, lam: Any, tmp_path: Path) -> None:
    name = unique("cli")
    create_queue(sqs, name)
    create_consumer(lam, name, tmp_path / "r.jsonl")
    created = cli_json(2, server.endpoint, ["lambda", "create-event-source-mapping", "--function-name", name,
                                           "--event-source-arn", queue_arn(name), "--batch-size", "5"], cwd=tmp_path)
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    listed = cli_json(2, server.endpoint, ["lambda", "list-event-source-mappings", "--function-name", name],
                      cwd=tmp_path)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    updated = cli_json(2, server.endpoint, ["lambda", "update-event-source-mapping", "--uuid", created["UUID"],
                                           "--no-enabled"], cwd=tmp_path)
    assert updated["State"] == "Disabling"
    deleted = cli_json(2, server.endpoint, ["lambda", "delete-event-source-mapping", "--uuid", created["UUID"]],
                       cwd=tmp_path)
    assert deleted["State"] == "Deleting"


def test_deleting_the_function_keeps_its_mappings(lam: Any, pair: tuple[str, str]) -> None:
    source, fn = pair
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn)
    lam.delete_function(FunctionName=fn)
    assert lam.get_event_source_mapping(UUID=created["UUID"])["FunctionArn"] == created["FunctionArn"]
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)["State"] == "Disabling"
    assert _refused(lam.update_event_source_mapping, UUID=created["UUID"], FunctionName=fn) == (
        400, "InvalidParameterValueException", "Function does not exist")
