"""Resolve FunctionName + Qualifier to the function version an invocation runs.

Below services and worker alike: used by sync Invoke, async accept, the dispatcher (which resolves again when an event runs, so queued
events see the function's current code and configuration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalite.arn import LATEST, check_scope, merge_qualifier, parse_function_name
from lambdalite.faults import Fault
from lambdalite.model.function import dead_letter_arn, to_run_spec, unqualified
from lambdalite.model.run import RunSpec
from lambdalite.node import Node
from lambdalite.store.code import ensure_unpacked


@dataclass
class Resolved:
    """One function version as an invocation will run it."""

    name: str
    qualifier: str  # as invoked: "$LATEST" when none, an alias name or a version
    executed_version: str  # "$LATEST" or the version an alias points to
    unqualified_arn: str
    qualified_arn: str  # uses the qualifier as invoked
    config: dict[str, Any]  # the version's FunctionConfiguration (AWS shape)
    spec: RunSpec
    reserved_concurrency: int | None
    dead_letter_arn: str | None
    recursion: str = "Terminate"  # PutFunctionRecursionConfig: "Allow" | "Terminate"


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


async def resolve_function(node: Node, function_name: str, qualifier: str | None, region: str) -> Resolved:
    """Raises Fault as Invoke would: 400 for a bad name/qualifier, 404 for a missing function/version/alias.

    On the hot path (every accept and every attempt) the result comes from the store's configuration
    cache until any function, version or alias changes. Callers must not mutate it.
    """
    return await node.store.cached(
        ("resolved", function_name, qualifier, region), lambda: _resolve(node, function_name, qualifier, region)
    )


async def _resolve(node: Node, function_name: str, qualifier: str | None, region: str) -> Resolved:
    ref = parse_function_name(function_name)  # NameError_ (a Fault) for a bad name or qualifier
    check_scope(ref, region, node.settings.account_id)
    invoked = merge_qualifier(ref, qualifier) or LATEST
    target = await node.store.find_target(ref.name, invoked)
    if target is None:
        arn = f"arn:aws:lambda:{region}:{node.settings.account_id}:function:{ref.name}:{invoked}"
        raise Fault(404, "ResourceNotFoundException", f"Function not found: {arn}")
    base_arn = unqualified(target.function.config["FunctionArn"])
    spec = to_run_spec(
        target.config,
        version=target.executed_version,
        code_root=node.settings.code_dir,
        region=_region_of(base_arn),
        default_client=node.settings.python_runtime_client,
        layer_dirs=await _layer_dirs(node, target.config),
    )
    await ensure_unpacked(node.store, node.settings.code_dir, spec.code_dir.name)  # another node's upload
    return Resolved(
        name=ref.name,
        qualifier=invoked,
        executed_version=target.executed_version,
        unqualified_arn=base_arn,
        qualified_arn=f"{base_arn}:{invoked}",
        config=target.config,
        spec=spec,
        reserved_concurrency=target.function.reserved_concurrency,
        dead_letter_arn=dead_letter_arn(target.config),
        recursion=target.function.recursion,
    )


async def _layer_dirs(node: Node, config: dict[str, Any]) -> tuple[Path, ...]:
    """The unpacked folders of the function's layers, in order (a deleted version still runs, as on AWS)."""
    dirs = []
    for layer in config.get("Layers") or ():
        parts = str(layer["Arn"]).split(":")
        row = await node.store.get_layer_version(parts[6], int(parts[7]), deleted=True)
        if row is None:
            raise Fault(400, "InvalidParameterValueException", f"Layer version {layer['Arn']} does not exist.")
        await ensure_unpacked(node.store, node.settings.layers_dir, row.code_sha)  # published on another node
        dirs.append(node.settings.layers_dir / row.code_sha)
    return tuple(dirs)
