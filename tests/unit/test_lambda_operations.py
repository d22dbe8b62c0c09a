"""The table of Lambda's operations lambdalite names in its 'not supported' answers, against botocore."""

from __future__ import annotations

import botocore.session
import pytest

from lambdalite.services.lambda_api.operations import OPERATIONS, operation_of


def test_table_is_botocores_lambda_model() -> None:
    model = botocore.session.get_session().get_service_model("lambda", api_version="2015-03-31")
    expected = {(model.operation_model(n).http["method"], model.operation_model(n).http["requestUri"], n)
                for n in model.operation_names}
    assert set(OPERATIONS) == expected


@pytest.mark.parametrize(("method", "path", "query", "name"), [
    ("GET", "/2020-06-30/functions/f/code-signing-config", {}, "GetFunctionCodeSigningConfig"),
    ("POST", "/2015-03-31/functions/f/policy", {}, "AddPermission"),
    ("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"List": "ALL"}, "ListProvisionedConcurrencyConfigs"),
    ("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"Qualifier": "1"}, "GetProvisionedConcurrencyConfig"),
    ("GET", "/2018-10-31/layers", {"find": "LayerVersion", "Arn": "a"}, "GetLayerVersionByArn"),
    ("GET", "/2018-10-31/layers", {}, "ListLayers"),
    ("DELETE", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f", {}, "UntagResource"),
    ("GET", "/2015-03-31/nothing-here", {}, None),
    ("PATCH", "/2015-03-31/functions/f", {}, None),
])
def test_operation_of(method: str, path: str, query: dict[str, str], name: str | None) -> None:
    assert operation_of(method, path, query) == name
