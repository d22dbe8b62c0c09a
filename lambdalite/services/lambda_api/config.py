"""Validate CreateFunction / UpdateFunctionConfiguration parameters and build configurations."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

from lambdalite.model.function import (
    MAX_DESCRIPTION,
    MAX_ENV_BYTES,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    RUNTIMES,
    lambda_date,
)
from lambdalite.runtime.interpreters import require_host_runtime
from lambdalite.services.http import AwsError, validation_error
from lambdalite.services.lambda_api.common import get_int, get_obj, get_str, wrong_type
from lambdalite.store.code import StoredCode

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_ROLE = re.compile(ROLE_PATTERN)
HANDLER_PATTERN = r"[^\s]+"
_HANDLER = re.compile(HANDLER_PATTERN)
MAX_HANDLER = 128
_ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
_DLQ = re.compile(r"arn:aws[a-zA-Z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+")
_RESERVED_ENV = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip
RUNTIME_ENUM = "[" + ", ".join(RUNTIMES) + "]"
PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidParameterValueException", message)


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise invalid(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"{RUNTIME_ENUM} or be a valid ARN"
        )
    require_host_runtime(runtime)  # an enum member whose interpreter this host lacks is refused too
    return runtime


def check_role(role: str) -> str:
    if not _ROLE.fullmatch(role):
        raise validation_error(
            role, "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"
        )
    return role


def check_timeout(timeout_s: int) -> int:
    if timeout_s < 1:
        raise validation_error(timeout_s, "timeout", "Member must have value greater than or equal to 1")
    if timeout_s > MAX_TIMEOUT_S:
        raise validation_error(
            timeout_s, "timeout", f"Member must have value less than or equal to {MAX_TIMEOUT_S}"
        )
    return timeout_s


def check_memory(memory_mb: int) -> int:
    if memory_mb < MIN_MEMORY_MB:
        raise validation_error(
            memory_mb, "memorySize", f"Member must have value greater than or equal to {MIN_MEMORY_MB}"
        )
    if memory_mb > MAX_MEMORY_MB:
        raise validation_error(
            memory_mb, "memorySize", f"Member must have value less than or equal to {MAX_MEMORY_MB}"
        )
    return memory_mb


def check_handler(handler: str) -> str:
    """botocore's Handler shape: at most 128 characters, no whitespace, not empty."""
    if len(handler) > MAX_HANDLER:
        raise validation_error(
            handler, "handler", f"Member must have length less than or equal to {MAX_HANDLER}"
        )
    if not _HANDLER.fullmatch(handler):
        raise validation_error(
            handler, "handler", f"Member must satisfy regular expression pattern: {HANDLER_PATTERN}"
        )
    return handler


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise validation_error(
            description, "description", f"Member must have length less than or equal to {MAX_DESCRIPTION}"
        )
    return description


def check_environment(env: dict[str, Any]) -> dict[str, Any]:
    """Environment {"Variables": {KEY: "value"}}: key pattern, reserved keys, 4 KB total."""
    variables = env.get("Variables") or {}
    if not isinstance(variables, dict):
        raise wrong_type("Environment.Variables", "an object")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise wrong_type(f"Environment.Variables.{key}", "a string")
        if not _ENV_KEY.fullmatch(key):
            raise validation_error(
                "[" + ", ".join(variables) + "]",
                "environment.variables",
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            )
    reserved = [k for k in variables if k in _RESERVED_ENV]
    if reserved:
        raise invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = orjson.dumps(variables).decode()
    if len(measured.encode()) > MAX_ENV_BYTES:
        raise invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}"
        )
    return {"Variables": dict(variables)}


def check_dead_letter(dlq: dict[str, Any]) -> dict[str, Any] | None:
    """DeadLetterConfig {"TargetArn": SQS or SNS ARN}; an empty TargetArn removes it."""
    target = get_str(dlq, "TargetArn")
    if not target:
        return None
    if not _DLQ.fullmatch(target):
        raise invalid(
            f"The provided target ARN {target} is invalid. Only SQS queues and SNS topics are supported."
        )
    return {"TargetArn": target}


def check_architectures(data: dict[str, Any]) -> list[str]:
    archs = data.get("Architectures")
    if archs is None:
        return ["x86_64"]
    if not isinstance(archs, list) or len(archs) != 1 or archs[0] not in ("x86_64", "arm64"):
        shown = "[" + ", ".join(str(a) for a in archs) + "]" if isinstance(archs, list) else str(archs)
        raise validation_error(
            shown,
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
        )
    return list(archs)


LAYER_PATTERN = (
    r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))"
)
_LAYER = re.compile(LAYER_PATTERN)


def _strings(value: Any, member: str) -> list[str]:
    """A JSON list of strings (botocore's list-of-string shapes), else AWS's body-parse error."""
    if not isinstance(value, list):
        raise wrong_type(member, "a list")
    for item in value:
        if not isinstance(item, str):
            raise wrong_type(f"{member} member", "a string")
    return value


def check_tags(tags: Any) -> None:
    """Tags: a map of string to string (TagKey 1-128 characters, TagValue up to 256)."""
    if not isinstance(tags, dict):
        raise wrong_type("Tags", "an object")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise wrong_type(f"Tags.{key}", "a string")
        if not 1 <= len(key) <= 128:
            raise validation_error(key, "tags", "Map keys must satisfy constraint: [Member must have length "
                                   "less than or equal to 128, Member must have length greater than or equal to 1]")
        if len(value) > 256:
            raise validation_error(value, f"tags.{key}", "Member must have length less than or equal to 256")


def check_layers(layers: Any) -> None:
    """Layers: a list of layer version ARNs (botocore's LayerVersionArn pattern); layers.py resolves them."""
    for arn in _strings(layers, "Layers"):
        if not 1 <= len(arn) <= 2048 or not _LAYER.fullmatch(arn):
            raise validation_error(
                "[" + ", ".join(layers) + "]", "layers",
                "Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must "
                f"have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                f"{LAYER_PATTERN}, Member must not be null]",
            )


def check_vpc(vpc: Any) -> None:
    """VpcConfig: {SubnetIds: <= 16 strings, SecurityGroupIds: <= 5 strings, Ipv6AllowedForDualStack}."""
    if not isinstance(vpc, dict):
        raise wrong_type("VpcConfig", "an object")
    for key, member, most in (("SubnetIds", "vpcConfig.subnetIds", 16),
                              ("SecurityGroupIds", "vpcConfig.securityGroupIds", 5)):
        if vpc.get(key) is None:
            continue
        ids = _strings(vpc[key], f"VpcConfig.{key}")
        if len(ids) > most:
            raise validation_error("[" + ", ".join(ids) + "]", member,
                                   f"Member must have length less than or equal to {most}")
    dual_stack = vpc.get("Ipv6AllowedForDualStack")
    if dual_stack is not None and not isinstance(dual_stack, bool):
        raise wrong_type("VpcConfig.Ipv6AllowedForDualStack", "a boolean")


def new_config(data: dict[str, Any], name: str, arn: str, code: StoredCode) -> dict[str, Any]:
    """The $LATEST FunctionConfiguration for a validated CreateFunction."""
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": data["Runtime"],
        "Role": data["Role"],
        "Handler": data["Handler"],
        "CodeSize": code.size,
        "Description": data.get("Description") or "",
        "Timeout": data.get("Timeout") or 3,
        "MemorySize": data.get("MemorySize") or 128,
        "LastModified": lambda_date(),
        "CodeSha256": code.sha256_b64,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": str(uuid.uuid4()),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": data["Architectures"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    if data.get("Environment") is not None:
        config["Environment"] = data["Environment"]
    if data.get("DeadLetterConfig"):
        config["DeadLetterConfig"] = data["DeadLetterConfig"]
    return config


def validate_create(data: dict[str, Any]) -> dict[str, Any]:
    """Check CreateFunction's parameters; returns them normalised (Environment, DLQ, Architectures)."""
    out = dict(data)
    check_role(get_str(data, "Role", required=True) or "")
    package_type = get_str(data, "PackageType") or "Zip"
    if package_type != "Zip":
        raise invalid("lambdalite runs zip packages only: PackageType Image is not supported.")
    runtime, handler = get_str(data, "Runtime"), get_str(data, "Handler")
    if handler is not None:
        check_handler(handler)
    if not runtime or not handler:
        raise invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    check_runtime(runtime)
    if data.get("Tags") is not None:
        check_tags(data["Tags"])
    validate_common(data, out)
    out["Architectures"] = check_architectures(data)
    return out


def validate_common(data: dict[str, Any], out: dict[str, Any]) -> None:
    """Parameters shared by CreateFunction and UpdateFunctionConfiguration."""
    if (timeout := get_int(data, "Timeout")) is not None:
        check_timeout(timeout)
    if (memory := get_int(data, "MemorySize")) is not None:
        check_memory(memory)
    if (description := get_str(data, "Description")) is not None:
        check_description(description)
    if (handler := get_str(data, "Handler")) is not None:
        check_handler(handler)
    if (env := get_obj(data, "Environment")) is not None:
        out["Environment"] = check_environment(env)
    if (dlq := get_obj(data, "DeadLetterConfig")) is not None:
        out["DeadLetterConfig"] = check_dead_letter(dlq)
    if data.get("Layers") is not None:
        check_layers(data["Layers"])
    if data.get("VpcConfig") is not None:
        check_vpc(data["VpcConfig"])


def apply_update(data: dict[str, Any]) -> dict[str, Any]:
    """Validate UpdateFunctionConfiguration; returns the changes to merge into $LATEST."""
    changes: dict[str, Any] = {}
    validate_common(data, changes)
    for key in ("Timeout", "MemorySize", "Description", "Handler"):
        if data.get(key) is not None:
            changes[key] = data[key]
    if (runtime := get_str(data, "Runtime")) is not None:
        changes["Runtime"] = check_runtime(runtime)
    if (role := get_str(data, "Role")) is not None:
        changes["Role"] = check_role(role)
    return changes


def merged(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """$LATEST after an update: new RevisionId (so new environments) and LastModified."""
    out = {**config, **changes}
    for key in ("Environment", "DeadLetterConfig", "Layers"):
        if key in changes and changes[key] is None:
            out.pop(key, None)
    out["RevisionId"] = str(uuid.uuid4())
    out["LastModified"] = lambda_date()
    out["State"] = "Active"
    out["LastUpdateStatus"] = "Successful"
    return out
