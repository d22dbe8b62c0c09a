"""Everything the Lambda API stored survives a restart on the same data folder."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.test_lambda_helpers import arn, create


def test_restart_keeps_functions(start_server: Any) -> None:
    server = start_server()
    lam = server.client("lambda")
    created = create(lam, "dur-fn", Publish=True, Environment={"Variables": {"KK": "v"}})
    lam.create_alias(FunctionName="dur-fn", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="dur-fn", ReservedConcurrentExecutions=3)
    lam.put_function_recursion_config(FunctionName="dur-fn", RecursiveLoop="Allow")
    lam.update_function_configuration(FunctionName="dur-fn", Timeout=9)

    server.restart()
    lam = server.client("lambda")
    latest = lam.get_function_configuration(FunctionName="dur-fn")
    assert latest["Timeout"] == 9 and latest["Environment"] == {"Variables": {"KK": "v"}}
    assert latest["CodeSha256"] == created["CodeSha256"]
    assert lam.get_function_configuration(FunctionName="dur-fn", Qualifier="1")["Timeout"] == 3
    assert lam.get_alias(FunctionName="dur-fn", Name="live")["AliasArn"] == arn("dur-fn", "live")
    assert lam.get_function_concurrency(FunctionName="dur-fn")["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_recursion_config(FunctionName="dur-fn")["RecursiveLoop"] == "Allow"
    response = lam.invoke(FunctionName="dur-fn:live", Payload=b'{"after": "restart"}')
    assert json.loads(response["Payload"].read()) == {"after": "restart"}
    assert response["ExecutedVersion"] == "1"
