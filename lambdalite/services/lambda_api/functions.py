"""Create/Get/List/Update/Delete function operations (contract section 9)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from lambdalite.arn import LATEST
from lambdalite.credentials import code_location_query
from lambdalite.model.function import sha256_hex
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, empty_response, json_response
from lambdalite.services.lambda_api import config as cfg
from lambdalite.services.lambda_api import layers, permissions, tags
from lambdalite.services.lambda_api.common import (
    arn_of,
    body_object,
    get_bool,
    get_str,
    max_items,
    missing,
    not_found,
    parse_ref,
    qualifier_of,
    require_function,
)
from lambdalite.store import code as code_store
from lambdalite.store.errors import AlreadyExists, Missing

log = logging.getLogger(__name__)
CODE_PATH = "/_lambdalite/code/"


async def _store_code(node: Node, zip_b64: object) -> code_store.StoredCode:
    data = code_store.decode_zip_file(zip_b64)  # CodeError is AWS's own error
    stored = await asyncio.to_thread(code_store.store_zip, node.settings.code_dir, data)
    await node.store.save_code(stored.sha256_hex, data)  # where other nodes find it (PostgreSQL)
    return stored


async def _forget_code(node: Node, shas: list[str]) -> None:
    for sha in shas:
        await asyncio.to_thread(code_store.remove_code, node.settings.code_dir, sha)
        await node.store.delete_code(sha)


def _code_source(data: dict[str, Any]) -> object:
    """Code.ZipFile (CreateFunction) or ZipFile (UpdateFunctionCode); S3 and images are not served."""
    if data.get("S3Bucket") or data.get("S3Key"):
        raise cfg.invalid("lambdalite does not read code from S3: upload it as ZipFile.")
    if data.get("ImageUri"):
        raise cfg.invalid("lambdalite runs zip packages only: ImageUri is not supported.")
    if data.get("ZipFile") is None:
        raise cfg.invalid("Please provide a source for function code.")
    return data["ZipFile"]


async def create_function(node: Node, request: Request) -> Response:
    data = body_object(request)
    raw_name = get_str(data, "FunctionName", required=True) or ""
    ref = parse_ref(node, request, raw_name, allow_qualifier=False)
    code = data.get("Code")
    if not isinstance(code, dict):
        raise missing("code") if code is None else cfg.invalid("Code must be an object.")
    params = cfg.validate_create(data)
    publish = get_bool(data, "Publish")
    source = _code_source(code)
    if await node.store.get_function(ref.name) is not None:
        raise _conflict(ref.name)
    function_layers = await layers.function_layers(node, request, data.get("Layers") or [])
    stored = await _store_code(node, source)
    config = cfg.new_config(params, ref.name, arn_of(node, request, ref.name), stored)
    if function_layers:
        config["Layers"] = function_layers
    try:
        answer = await node.store.create_function(config, stored.sha256_hex, publish)
    except AlreadyExists:
        raise _conflict(ref.name) from None
    if not stored.path.is_dir():  # a concurrent delete collected the same package: store it again
        await _store_code(node, source)
    await tags.store_create_tags(node, config["FunctionArn"], params.get("Tags"))
    # With Publish, AWS answers with version 1's configuration but the unqualified FunctionArn.
    return json_response({**answer, "FunctionArn": config["FunctionArn"]}, 201)


def _conflict(name: str) -> AwsError:
    return AwsError(409, "ResourceConflictException", f"Function already exist: {name}")


async def _version_view(node: Node, request: Request, name: str, qualifier: str | None) -> dict[str, Any]:
    """The configuration GetFunction(Configuration) shows for a qualifier."""
    if qualifier is None:
        row = await require_function(node, request, name)
        return row.config
    target = await node.store.find_target(name, qualifier)
    if target is None:
        raise not_found(node, request, name, qualifier)
    return {**target.config, "FunctionArn": arn_of(node, request, name, qualifier)}


async def get_function(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name)
    qualifier = qualifier_of(ref, request)
    config = await _version_view(node, request, ref.name, qualifier)
    row = await node.store.get_function(ref.name)
    path = f"{CODE_PATH}{sha256_hex(config['CodeSha256'])}.zip"
    signed = code_location_query(node.settings, request.host, path, request.region, time.time())
    location = f"http://{request.host}{path}" + (f"?{signed}" if signed else "")
    body: dict[str, Any] = {"Configuration": config, "Code": {"RepositoryType": "S3", "Location": location}}
    if row is not None and row.reserved_concurrency is not None:
        body["Concurrency"] = {"ReservedConcurrentExecutions": row.reserved_concurrency}
    if found_tags := await tags.tags_of(node, arn_of(node, request, ref.name)):
        body["Tags"] = found_tags
    return json_response(body)


async def get_function_configuration(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name)
    return json_response(await _version_view(node, request, ref.name, qualifier_of(ref, request)))


def _marker(raw: str | None) -> tuple[str, int]:
    if not raw:
        return ("", -1)
    name, _, number = raw.rpartition(":")
    if not name or not number.lstrip("-").isdigit():
        raise cfg.invalid(f"Invalid marker: {raw}")
    return (name, int(number))


async def list_functions(node: Node, request: Request) -> Response:
    everything = request.query.get("FunctionVersion")
    if everything not in (None, "", "ALL"):
        raise AwsError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{everything}' at 'functionVersion' failed to satisfy constraint: "
            "Member must satisfy enum value set: [ALL]",
            type_=None,
        )
    limit = max_items(request, 50, 10000)
    after = _marker(request.query.get("Marker"))
    rows, _ = await node.store.list_functions("", 1_000_000)
    items: list[tuple[tuple[str, int], dict[str, Any]]] = []
    for row in rows:
        if everything == "ALL":
            items.append(
                ((row.name, 0), {**row.config, "FunctionArn": row.config["FunctionArn"] + ":$LATEST"})
            )
            items.extend(((row.name, int(v["Version"])), v) for v in await node.store.list_versions(row.name))
        else:
            items.append(((row.name, 0), row.config))
    items = [item for item in items if item[0] > after]
    page = items[:limit]
    body: dict[str, Any] = {"Functions": [config for _, config in page]}
    if len(items) > limit:
        last = page[-1][0]
        body["NextMarker"] = f"{last[0]}:{last[1]}"
    return json_response(body)


async def update_function_code(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    publish, dry_run = get_bool(data, "Publish"), get_bool(data, "DryRun")
    revision = get_str(data, "RevisionId")
    source = _code_source(data)
    current = await require_function(node, request, ref.name)
    if revision and revision != current.config["RevisionId"]:
        raise AwsError(412, "PreconditionFailedException", cfg.PRECONDITION)
    architectures = cfg.check_architectures(data) if "Architectures" in data else None
    stored = await _store_code(node, source)
    if dry_run:
        return json_response({**current.config, "CodeSha256": stored.sha256_b64, "CodeSize": stored.size})

    def change(config: dict[str, Any]) -> dict[str, Any]:
        if revision and revision != config["RevisionId"]:
            raise AwsError(412, "PreconditionFailedException", cfg.PRECONDITION)
        changes: dict[str, Any] = {"CodeSha256": stored.sha256_b64, "CodeSize": stored.size}
        if architectures:
            changes["Architectures"] = architectures
        return cfg.merged(config, changes)

    try:
        answer, unused = await node.store.update_latest(ref.name, change, stored.sha256_hex, publish)
    except Missing:
        raise not_found(node, request, ref.name) from None
    await _forget_code(node, unused)
    return json_response(answer)


async def update_function_configuration(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    revision = get_str(data, "RevisionId")
    changes = cfg.apply_update(data)
    await require_function(node, request, ref.name)
    if data.get("Layers") is not None:
        changes["Layers"] = await layers.function_layers(node, request, data["Layers"]) or None

    def change(config: dict[str, Any]) -> dict[str, Any]:
        if revision and revision != config["RevisionId"]:
            raise AwsError(412, "PreconditionFailedException", cfg.PRECONDITION)
        return cfg.merged(config, changes)

    try:
        answer, _ = await node.store.update_latest(ref.name, change, None, False)
    except Missing:
        raise not_found(node, request, ref.name) from None
    return json_response(answer)


async def delete_function(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name)
    qualifier = qualifier_of(ref, request)
    if qualifier == LATEST:
        raise cfg.invalid("$LATEST version cannot be deleted without deleting the function.")
    await require_function(node, request, ref.name)
    if qualifier is not None:
        await _delete_version(node, request, ref.name, qualifier)
        return empty_response(204)
    try:
        unused = await node.store.delete_function(ref.name)
    except Missing:
        raise not_found(node, request, ref.name) from None
    await delete_event_configs(node, ref.name, None)
    await tags.forget_tags(node, arn_of(node, request, ref.name))
    await permissions.forget_policies(node, ref.name, None)
    await node.pool.retire(ref.name)  # its warm environments would otherwise idle until reaped
    await _forget_code(node, unused)
    return empty_response(204)


async def _delete_version(node: Node, request: Request, name: str, version: str) -> None:
    if not version.isdigit():
        raise cfg.invalid(
            f"Qualifier {version} is not a version: DeleteFunction deletes versions; use DeleteAlias."
        )
    users = [a["Name"] for a in await node.store.list_aliases(name) if a["FunctionVersion"] == version]
    if users:
        raise AwsError(
            409,
            "ResourceConflictException",
            f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]",
        )
    unused = await node.store.delete_version(name, version)
    await delete_event_configs(node, name, version)
    await permissions.forget_policies(node, name, version)
    await _forget_code(node, unused)


async def delete_event_configs(node: Node, name: str, qualifier: str | None) -> None:
    """Remove event invoke configs with their function/qualifier."""
    try:
        await node.store.delete_event_invoke_configs(name, qualifier)
    except Exception:
        log.exception("could not delete event invoke configs of %s", name)


async def get_code_zip(node: Node, request: Request, sha: str) -> Response:
    """GetFunction's Code.Location: the stored zip."""
    if not all(c in "0123456789abcdef" for c in sha) or len(sha) != 64:
        raise AwsError(404, "ResourceNotFoundException", "Code not found")
    await code_store.ensure_unpacked(node.store, node.settings.code_dir, sha)  # uploaded on another node
    path = code_store.zip_path(node.settings.code_dir, sha)
    with contextlib.suppress(FileNotFoundError):
        data = await asyncio.to_thread(path.read_bytes)
        return Response(200, data, [], "application/zip")
    raise AwsError(404, "ResourceNotFoundException", "Code not found")
