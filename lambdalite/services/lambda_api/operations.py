"""Every operation of Lambda's API (botocore's lambda 2015-03-31 model: method, request URI, name), so a
request lambdalite does not serve is answered with the operation's name. tests/unit/test_lambda_operations.py
holds this table against the installed botocore model."""

from __future__ import annotations

import re

OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ('POST', '/2014-11-13/functions/{FunctionName}/invoke-async', 'InvokeAsync'),
    ('GET', '/2015-03-31/event-source-mappings', 'ListEventSourceMappings'),
    ('POST', '/2015-03-31/event-source-mappings', 'CreateEventSourceMapping'),
    ('DELETE', '/2015-03-31/event-source-mappings/{UUID}', 'DeleteEventSourceMapping'),
    ('GET', '/2015-03-31/event-source-mappings/{UUID}', 'GetEventSourceMapping'),
    ('PUT', '/2015-03-31/event-source-mappings/{UUID}', 'UpdateEventSourceMapping'),
    ('GET', '/2015-03-31/functions', 'ListFunctions'),
    ('POST', '/2015-03-31/functions', 'CreateFunction'),
    ('DELETE', '/2015-03-31/functions/{FunctionName}', 'DeleteFunction'),
    ('GET', '/2015-03-31/functions/{FunctionName}', 'GetFunction'),
    ('GET', '/2015-03-31/functions/{FunctionName}/aliases', 'ListAliases'),
    ('POST', '/2015-03-31/functions/{FunctionName}/aliases', 'CreateAlias'),
    ('DELETE', '/2015-03-31/functions/{FunctionName}/aliases/{Name}', 'DeleteAlias'),
    ('GET', '/2015-03-31/functions/{FunctionName}/aliases/{Name}', 'GetAlias'),
    ('PUT', '/2015-03-31/functions/{FunctionName}/aliases/{Name}', 'UpdateAlias'),
    ('PUT', '/2015-03-31/functions/{FunctionName}/code', 'UpdateFunctionCode'),
    ('GET', '/2015-03-31/functions/{FunctionName}/configuration', 'GetFunctionConfiguration'),
    ('PUT', '/2015-03-31/functions/{FunctionName}/configuration', 'UpdateFunctionConfiguration'),
    ('POST', '/2015-03-31/functions/{FunctionName}/invocations', 'Invoke'),
    ('GET', '/2015-03-31/functions/{FunctionName}/policy', 'GetPolicy'),
    ('POST', '/2015-03-31/functions/{FunctionName}/policy', 'AddPermission'),
    ('DELETE', '/2015-03-31/functions/{FunctionName}/policy/{StatementId}', 'RemovePermission'),
    ('GET', '/2015-03-31/functions/{FunctionName}/versions', 'ListVersionsByFunction'),
    ('POST', '/2015-03-31/functions/{FunctionName}/versions', 'PublishVersion'),
    ('GET', '/2016-08-19/account-settings', 'GetAccountSettings'),
    ('DELETE', '/2017-03-31/tags/{Resource}', 'UntagResource'),
    ('GET', '/2017-03-31/tags/{Resource}', 'ListTags'),
    ('POST', '/2017-03-31/tags/{Resource}', 'TagResource'),
    ('DELETE', '/2017-10-31/functions/{FunctionName}/concurrency', 'DeleteFunctionConcurrency'),
    ('PUT', '/2017-10-31/functions/{FunctionName}/concurrency', 'PutFunctionConcurrency'),
    ('GET', '/2018-10-31/layers', 'ListLayers'),
    ('GET', '/2018-10-31/layers/{LayerName}/versions', 'ListLayerVersions'),
    ('POST', '/2018-10-31/layers/{LayerName}/versions', 'PublishLayerVersion'),
    ('DELETE', '/2018-10-31/layers/{LayerName}/versions/{VersionNumber}', 'DeleteLayerVersion'),
    ('GET', '/2018-10-31/layers/{LayerName}/versions/{VersionNumber}', 'GetLayerVersion'),
    ('GET', '/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy', 'GetLayerVersionPolicy'),
    ('POST', '/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy', 'AddLayerVersionPermission'),
    ('DELETE', '/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}', 'RemoveLayerVersionPermission'),
    ('GET', '/2018-10-31/layers?find=LayerVersion', 'GetLayerVersionByArn'),
    ('DELETE', '/2019-09-25/functions/{FunctionName}/event-invoke-config', 'DeleteFunctionEventInvokeConfig'),
    ('GET', '/2019-09-25/functions/{FunctionName}/event-invoke-config', 'GetFunctionEventInvokeConfig'),
    ('POST', '/2019-09-25/functions/{FunctionName}/event-invoke-config', 'UpdateFunctionEventInvokeConfig'),
    ('PUT', '/2019-09-25/functions/{FunctionName}/event-invoke-config', 'PutFunctionEventInvokeConfig'),
    ('GET', '/2019-09-25/functions/{FunctionName}/event-invoke-config/list', 'ListFunctionEventInvokeConfigs'),
    ('GET', '/2019-09-30/functions/{FunctionName}/concurrency', 'GetFunctionConcurrency'),
    ('DELETE', '/2019-09-30/functions/{FunctionName}/provisioned-concurrency', 'DeleteProvisionedConcurrencyConfig'),
    ('GET', '/2019-09-30/functions/{FunctionName}/provisioned-concurrency', 'GetProvisionedConcurrencyConfig'),
    ('PUT', '/2019-09-30/functions/{FunctionName}/provisioned-concurrency', 'PutProvisionedConcurrencyConfig'),
    ('GET', '/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL', 'ListProvisionedConcurrencyConfigs'),
    ('GET', '/2020-04-22/code-signing-configs', 'ListCodeSigningConfigs'),
    ('POST', '/2020-04-22/code-signing-configs', 'CreateCodeSigningConfig'),
    ('DELETE', '/2020-04-22/code-signing-configs/{CodeSigningConfigArn}', 'DeleteCodeSigningConfig'),
    ('GET', '/2020-04-22/code-signing-configs/{CodeSigningConfigArn}', 'GetCodeSigningConfig'),
    ('PUT', '/2020-04-22/code-signing-configs/{CodeSigningConfigArn}', 'UpdateCodeSigningConfig'),
    ('GET', '/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions', 'ListFunctionsByCodeSigningConfig'),
    ('DELETE', '/2020-06-30/functions/{FunctionName}/code-signing-config', 'DeleteFunctionCodeSigningConfig'),
    ('GET', '/2020-06-30/functions/{FunctionName}/code-signing-config', 'GetFunctionCodeSigningConfig'),
    ('PUT', '/2020-06-30/functions/{FunctionName}/code-signing-config', 'PutFunctionCodeSigningConfig'),
    ('GET', '/2021-07-20/functions/{FunctionName}/runtime-management-config', 'GetRuntimeManagementConfig'),
    ('PUT', '/2021-07-20/functions/{FunctionName}/runtime-management-config', 'PutRuntimeManagementConfig'),
    ('DELETE', '/2021-10-31/functions/{FunctionName}/url', 'DeleteFunctionUrlConfig'),
    ('GET', '/2021-10-31/functions/{FunctionName}/url', 'GetFunctionUrlConfig'),
    ('POST', '/2021-10-31/functions/{FunctionName}/url', 'CreateFunctionUrlConfig'),
    ('PUT', '/2021-10-31/functions/{FunctionName}/url', 'UpdateFunctionUrlConfig'),
    ('GET', '/2021-10-31/functions/{FunctionName}/urls', 'ListFunctionUrlConfigs'),
    ('POST', '/2021-11-15/functions/{FunctionName}/response-streaming-invocations', 'InvokeWithResponseStream'),
    ('GET', '/2024-08-31/functions/{FunctionName}/recursion-config', 'GetFunctionRecursionConfig'),
    ('PUT', '/2024-08-31/functions/{FunctionName}/recursion-config', 'PutFunctionRecursionConfig'),
    ('GET', '/2025-11-30/capacity-providers', 'ListCapacityProviders'),
    ('POST', '/2025-11-30/capacity-providers', 'CreateCapacityProvider'),
    ('DELETE', '/2025-11-30/capacity-providers/{CapacityProviderName}', 'DeleteCapacityProvider'),
    ('GET', '/2025-11-30/capacity-providers/{CapacityProviderName}', 'GetCapacityProvider'),
    ('PUT', '/2025-11-30/capacity-providers/{CapacityProviderName}', 'UpdateCapacityProvider'),
    ('GET', '/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions', 'ListFunctionVersionsByCapacityProvider'),
    ('GET', '/2025-11-30/functions/{FunctionName}/function-scaling-config', 'GetFunctionScalingConfig'),
    ('PUT', '/2025-11-30/functions/{FunctionName}/function-scaling-config', 'PutFunctionScalingConfig'),
    ('POST', '/2025-12-01/durable-execution-callbacks/{CallbackId}/fail', 'SendDurableExecutionCallbackFailure'),
    ('POST', '/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat', 'SendDurableExecutionCallbackHeartbeat'),
    ('POST', '/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed', 'SendDurableExecutionCallbackSuccess'),
    ('DELETE', '/2025-12-01/durable-executions/{DurableExecutionArn}', 'DeleteDurableExecution'),
    ('GET', '/2025-12-01/durable-executions/{DurableExecutionArn}', 'GetDurableExecution'),
    ('POST', '/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint', 'CheckpointDurableExecution'),
    ('GET', '/2025-12-01/durable-executions/{DurableExecutionArn}/history', 'GetDurableExecutionHistory'),
    ('POST', '/2025-12-01/durable-executions/{DurableExecutionArn}/pause', 'PauseDurableExecution'),
    ('POST', '/2025-12-01/durable-executions/{DurableExecutionArn}/resume', 'ResumeDurableExecution'),
    ('GET', '/2025-12-01/durable-executions/{DurableExecutionArn}/state', 'GetDurableExecutionState'),
    ('POST', '/2025-12-01/durable-executions/{DurableExecutionArn}/stop', 'StopDurableExecution'),
    ('GET', '/2025-12-01/functions/{FunctionName}/durable-executions', 'ListDurableExecutionsByFunction'),
    ('DELETE', '/2026-07-09/resource-policy/{ResourceArn}', 'DeleteResourcePolicy'),
    ('GET', '/2026-07-09/resource-policy/{ResourceArn}', 'GetResourcePolicy'),
    ('PUT', '/2026-07-09/resource-policy/{ResourceArn}', 'PutResourcePolicy'),
)


def _pattern(uri: str) -> tuple[re.Pattern[str], dict[str, str]]:
    path, _, query = uri.partition("?")
    regex = re.sub(r"\\{[A-Za-z]+\+?\\}", "[^/]+", re.escape(path))
    required = {key: value for key, _, value in (part.partition("=") for part in query.split("&") if part)}
    return re.compile(f"^{regex}/?$"), required


_COMPILED = [(method, *_pattern(uri), name) for method, uri, name in OPERATIONS]


def operation_of(method: str, path: str, query: dict[str, str]) -> str | None:
    """The name of the Lambda operation a request is for (None when it is none of Lambda's)."""
    best: str | None = None
    for op_method, regex, required, name in _COMPILED:
        if op_method != method or not regex.match(path):
            continue
        if not all(key in query and (not value or query[key] == value) for key, value in required.items()):
            continue
        if required or best is None:  # a query-qualified form (ListProvisionedConcurrencyConfigs) wins
            best = name
    return best
