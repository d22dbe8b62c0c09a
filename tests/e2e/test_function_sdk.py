"""A function's own AWS SDK calls reach lambdalite without configuration (AWS_ENDPOINT_URL is set)."""

from __future__ import annotations

import json

from tests.support.server import LambdaliteProcess
from tests.support.zips import python_zip

HANDLER = """
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"from": context.function_name}))
    return {"sent": True}

import json
"""


def test_boto3_in_a_function_talks_to_lambdalite(server: LambdaliteProcess) -> None:
    sqs = server.client("sqs")
    lam = server.client("lambda")
    url = sqs.create_queue(QueueName="from-function")["QueueUrl"]
    lam.create_function(FunctionName="sdk-user", Runtime="python3.11", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": python_zip(HANDLER)}, Timeout=30)
    out = lam.invoke(FunctionName="sdk-user", Payload=json.dumps({"queue": "from-function"}))
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == {"sent": True}
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"from": "sdk-user"}]
