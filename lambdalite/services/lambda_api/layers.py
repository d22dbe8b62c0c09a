"""Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
DeleteLayerVersion, and the `Layers` of CreateFunction / UpdateFunctionConfiguration.

Archives are stored as function code is (store/code.py) under the layers folder; metadata through the
store (LayersStore). A deleted version disappears from reads and lists, but functions that use it keep
running it (its archive stays), as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from lambdalite.credentials import code_location_query
from lambdalite.model.function import RUNTIMES, lambda_date
from lambdalite.model.layer import MAX_LAYERS_PER_FUNCTION, LayerVersionRow
from lambdalite.node import Node
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    empty_response,
    json_response,
    validation_error,
)
from lambdalite.services.lambda_api.common import body_object, get_str, max_items, missing, wrong_type
from lambdalite.store import code as code_store

LAYER_PATH = "/_lambdalite/layers/"
NAME_PATTERN = r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
_NAME = re.compile(NAME_PATTERN)
_VERSION_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)")
ARCHITECTURES = ("x86_64", "arm64")
NOT_FOUND = "The resource you requested does not exist."


def layer_arn(node: Node, request: Request, name: str) -> str:
    return f"arn:aws:lambda:{request.region}:{node.settings.account_id}:layer:{name}"


def _name(node: Node, request: Request, raw: str) -> str:
    if not 1 <= len(raw) <= 140:
        raise validation_error(raw, "layerName", "Member must have length less than or equal to 140")
    if not _NAME.fullmatch(raw):
        raise validation_error(raw, "layerName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}")
    if not raw.startswith("arn:"):
        return raw
    prefix = layer_arn(node, request, "")
    if not raw.startswith(prefix):
        raise AwsError(404, "ResourceNotFoundException", NOT_FOUND)
    return raw[len(prefix):]


def _version(raw: str) -> int:
    if not raw.isdigit():
        raise validation_error(raw, "versionNumber", "Member must have value greater than or equal to 1")
    return int(raw)


def _enum_list(data: dict[str, Any], key: str, member: str, allowed: tuple[str, ...], most: int) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong_type(key, "a list of strings")
    if len(value) > most:
        raise validation_error("[" + ", ".join(value) + "]", member, f"Member must have length less than or equal to {most}")
    for item in value:
        if item not in allowed:
            raise validation_error("[" + ", ".join(value) + "]", member, "Member must satisfy constraint: [Member "
                                   f"must satisfy enum value set: [{', '.join(allowed)}]]")
    return list(value)


def _location(node: Node, request: Request, sha: str) -> str:
    path = f"{LAYER_PATH}{sha}.zip"
    signed = code_location_query(node.settings, request.host, path, request.region, time.time())
    return f"http://{request.host}{path}" + (f"?{signed}" if signed else "")


def _view(node: Node, request: Request, row: LayerVersionRow) -> dict[str, Any]:
    content = {"Location": _location(node, request, row.code_sha), **row.config["Content"]}
    return {**row.config, "Content": content}


def _list_item(row: LayerVersionRow) -> dict[str, Any]:
    keys = ("LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes", "LicenseInfo",
            "CompatibleArchitectures")
    return {key: row.config[key] for key in keys if key in row.config}


async def publish_layer_version(node: Node, request: Request, layer_name: str) -> Response:
    name = _name(node, request, layer_name)
    data = body_object(request)
    content = data.get("Content")
    if content is None:
        raise missing("content")
    if not isinstance(content, dict):
        raise wrong_type("Content", "an object")
    if content.get("S3Bucket") or content.get("S3Key"):
        raise AwsError(400, "InvalidParameterValueException", "lambdalite does not read layers from S3: upload "
                       "them as ZipFile.")
    if content.get("ZipFile") is None:
        raise AwsError(400, "InvalidParameterValueException", "Please provide a source for layer content.")
    description = get_str(data, "Description") or ""
    if len(description) > 256:
        raise validation_error(description, "description", "Member must have length less than or equal to 256")
    license_info = get_str(data, "LicenseInfo")
    if license_info is not None and len(license_info) > 512:
        raise validation_error(license_info, "licenseInfo", "Member must have length less than or equal to 512")
    runtimes = _enum_list(data, "CompatibleRuntimes", "compatibleRuntimes", RUNTIMES, 15)
    architectures = _enum_list(data, "CompatibleArchitectures", "compatibleArchitectures", ARCHITECTURES, 2)
    zipped = code_store.decode_zip_file(content["ZipFile"])
    stored = await asyncio.to_thread(code_store.store_zip, node.settings.layers_dir, zipped)
    await node.store.save_code(stored.sha256_hex, zipped)  # where other nodes find it (PostgreSQL)
    base = layer_arn(node, request, name)

    def make(version: int) -> dict[str, Any]:
        config: dict[str, Any] = {
            "Content": {"CodeSha256": stored.sha256_b64, "CodeSize": stored.size},
            "LayerArn": base, "LayerVersionArn": f"{base}:{version}", "Description": description,
            "CreatedDate": lambda_date(), "Version": version,
        }
        if runtimes is not None:
            config["CompatibleRuntimes"] = runtimes
        if license_info is not None:
            config["LicenseInfo"] = license_info
        if architectures is not None:
            config["CompatibleArchitectures"] = architectures
        return config

    row = await node.store.publish_layer_version(name, make, stored.sha256_hex, int(time.time() * 1000))
    return json_response(_view(node, request, row), 201)


async def get_layer_version(node: Node, request: Request, layer_name: str, version: str) -> Response:
    row = await node.store.get_layer_version(_name(node, request, layer_name), _version(version))
    if row is None:
        raise AwsError(404, "ResourceNotFoundException", NOT_FOUND)
    return json_response(_view(node, request, row))


async def get_layer_version_by_arn(node: Node, request: Request) -> Response:
    arn = request.query.get("Arn") or ""
    found = _VERSION_ARN.fullmatch(arn)
    if found is None:
        raise validation_error(arn, "arn", "Member must satisfy regular expression pattern: "
                               r"(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}"
                               r":layer:[a-zA-Z0-9-_]+:[0-9]+)")
    region, account, name, version = found.groups()
    row = None
    if (region, account) == (request.region, node.settings.account_id):
        row = await node.store.get_layer_version(name, int(version))
    if row is None:
        raise AwsError(404, "ResourceNotFoundException", NOT_FOUND)
    return json_response(_view(node, request, row))


def _compatible(row: LayerVersionRow, request: Request) -> bool:
    runtime, architecture = request.query.get("CompatibleRuntime"), request.query.get("CompatibleArchitecture")
    if runtime and runtime not in row.config.get("CompatibleRuntimes", []):
        return False
    return not (architecture and architecture not in row.config.get("CompatibleArchitectures", []))


def _page(request: Request, items: list[tuple[str, dict[str, Any]]], key: str) -> Response:
    limit = max_items(request, 50, 50)
    marker = request.query.get("Marker") or ""
    start = next((i + 1 for i, (k, _) in enumerate(items) if k == marker), 0) if marker else 0
    page = items[start:start + limit]
    body: dict[str, Any] = {key: [item for _, item in page]}
    if start + limit < len(items):
        body["NextMarker"] = page[-1][0]
    return json_response(body)


async def list_layer_versions(node: Node, request: Request, layer_name: str) -> Response:
    rows = await node.store.list_layer_versions(_name(node, request, layer_name))
    items = [(str(row.version), _list_item(row)) for row in rows if _compatible(row, request)]
    return _page(request, items, "LayerVersions")


async def list_layers(node: Node, request: Request) -> Response:
    if request.query.get("find") == "LayerVersion":
        return await get_layer_version_by_arn(node, request)
    items: list[tuple[str, dict[str, Any]]] = []
    for row in await node.store.list_layers():
        matching = row if _compatible(row, request) else next(
            (r for r in await node.store.list_layer_versions(row.name) if _compatible(r, request)), None)
        if matching is not None:
            items.append((row.name, {"LayerName": row.name, "LayerArn": row.config["LayerArn"],
                                     "LatestMatchingVersion": _list_item(matching)}))
    return _page(request, items, "Layers")


async def delete_layer_version(node: Node, request: Request, layer_name: str, version: str) -> Response:
    await node.store.delete_layer_version(_name(node, request, layer_name), _version(version))
    return empty_response(204)


async def get_layer_zip(node: Node, request: Request, sha: str) -> Response:
    await code_store.ensure_unpacked(node.store, node.settings.layers_dir, sha)  # published on another node
    with contextlib.suppress(FileNotFoundError):
        data = await asyncio.to_thread(code_store.zip_path(node.settings.layers_dir, sha).read_bytes)
        return Response(200, data, [], "application/zip")
    raise AwsError(404, "ResourceNotFoundException", "Layer content not found")


async def function_layers(node: Node, request: Request, arns: list[str]) -> list[dict[str, Any]]:
    """A function's `Layers` as FunctionConfiguration shows them; AWS's errors for too many, a missing
    version, or two versions of one layer."""
    if len(arns) > MAX_LAYERS_PER_FUNCTION:
        raise AwsError(400, "InvalidParameterValueException",
                       f"Cannot reference more than {MAX_LAYERS_PER_FUNCTION} layers.")
    seen: dict[str, str] = {}
    out = []
    for arn in arns:
        found = _VERSION_ARN.fullmatch(arn)
        row = None
        if found is not None and found.group(1, 2) == (request.region, node.settings.account_id):
            row = await node.store.get_layer_version(found.group(3), int(found.group(4)))
        if found is None or row is None:
            raise AwsError(400, "InvalidParameterValueException", f"Layer version {arn} does not exist.")
        if found.group(3) in seen:
            raise AwsError(400, "InvalidParameterValueException", "Two different versions of the same layer are "
                           f"not allowed to be referenced in the same function. {seen[found.group(3)]} and {arn}")
        seen[found.group(3)] = arn
        out.append({"Arn": arn, "CodeSize": row.config["Content"]["CodeSize"]})
    return out


L = r"(?P<layer_name>[^/]+)"
ROUTES = [
    ("GET", r"/2018-10-31/layers/?", list_layers),
    ("POST", rf"/2018-10-31/layers/{L}/versions/?", publish_layer_version),
    ("GET", rf"/2018-10-31/layers/{L}/versions/?", list_layer_versions),
    ("GET", rf"/2018-10-31/layers/{L}/versions/(?P<version>[^/]+)/?", get_layer_version),
    ("DELETE", rf"/2018-10-31/layers/{L}/versions/(?P<version>[^/]+)/?", delete_layer_version),
    ("GET", rf"{LAYER_PATH}(?P<sha>[0-9a-f]{{64}})\.zip", get_layer_zip),
]
