"""Create/Get/Update/Delete/ListEventSourceMappings for SQS queues (event-sources §4), and the tags of a
mapping's ARN (ListTags/TagResource/UntagResource on `...:event-source-mapping:UUID`).

The store keeps the record (model/esm.py); pollers in the dispatcher role follow it (worker/esm.py),
woken at once in this process through `wakeups.MAPPINGS` and the queue's `sqs_topic`.
"""

from __future__ import annotations

import uuid as uuids
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdalite import arn
from lambdalite.clock import now_ms
from lambdalite.model.esm import CREATING, EventSourceMapping
from lambdalite.node import Node
from lambdalite.resolve import Resolved, resolve_function
from lambdalite.services.http import AwsError, Request, Response, empty_response, json_response
from lambdalite.services.lambda_api import esm_params as params
from lambdalite.services.lambda_api.common import body_object, get_str, max_items, missing
from lambdalite.wakeups import MAPPINGS, sqs_topic

_BASE = r"/2015-03-31/event-source-mappings"
_TAGS = r"/2017-03-31/tags/(?P<resource>arn(?::|%3A)[^/]*event-source-mapping(?::|%3A)[0-9a-fA-F-]{36})/?"
NOT_FOUND = "The resource you requested does not exist."
DEFAULT_BATCH = 10
DEFAULT_LIST_ITEMS = 100


def _not_found() -> AwsError:
    return AwsError(404, "ResourceNotFoundException", NOT_FOUND)


def shape(node: Node, m: EventSourceMapping, now: int | None = None) -> dict[str, Any]:
    """The mapping as AWS answers it for an SQS source."""
    out: dict[str, Any] = {
        "UUID": m.uuid,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.window_s,
        "EventSourceArn": m.source_arn,
        "FunctionArn": m.function_arn,
        "LastModified": m.changed_ms / 1000,
        "State": m.state_at(now_ms() if now is None else now) or m.state,
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": list(m.response_types),
        "EventSourceMappingArn": mapping_arn(node, m),
    }
    if m.filters:
        out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in m.filters]}
    if m.max_concurrency is not None:
        out["ScalingConfig"] = {"MaximumConcurrency": m.max_concurrency}
    return out


def mapping_arn(node: Node, m: EventSourceMapping) -> str:
    return f"arn:aws:lambda:{m.region}:{node.settings.account_id}:event-source-mapping:{m.uuid}"


async def _function(node: Node, region: str, function_name: str) -> tuple[Resolved, str]:
    """The function a FunctionName names (qualifier kept) and its ARN as the mapping shows it."""
    ref = arn.parse_function_name(function_name)
    arn.check_scope(ref, region, node.settings.account_id)
    try:
        resolved = await resolve_function(node, function_name, None, region)
    except AwsError as err:
        if err.status == 404:
            raise params.invalid("Function does not exist") from None
        raise
    return resolved, arn.function_arn(region, node.settings.account_id, ref.name, ref.qualifier)


async def _check_source(node: Node, m: EventSourceMapping, resolved: Resolved) -> None:
    """The queue exists and keeps a message hidden longer than the function may run."""
    queue = await node.store.sqs_queue_by_arn(m.source_arn)
    if queue is None:
        raise params.invalid(params.NO_QUEUE)
    params.check_timeouts(int(queue.attrs.get("VisibilityTimeout", "30")), int(resolved.config.get("Timeout", 3)))


async def _current_function(node: Node, m: EventSourceMapping) -> Resolved | None:
    """The mapping's function, or None once it was deleted (its mappings stay and may still be changed)."""
    try:
        return await resolve_function(node, m.function_arn, None, m.region)
    except AwsError as err:
        if err.status == 404:
            return None
        raise


def _wake(node: Node, m: EventSourceMapping) -> None:
    node.wakeups.notify(MAPPINGS)
    node.wakeups.notify(sqs_topic(m.source_arn))


async def create_mapping(node: Node, request: Request) -> Response:
    body = body_object(request)
    function_name = get_str(body, "FunctionName")
    if not function_name:
        raise missing("functionName")
    settings = params.settings_of(body)
    source = params.queue_arn(body.get("EventSourceArn"))
    tags = _tags_of(body.get("Tags"))
    batch_size = settings.get("batch_size", DEFAULT_BATCH)
    window_s = settings.get("window_s", 0)
    params.check_batching(source.last_name, batch_size, window_s)
    resolved, function_arn = await _function(node, request.region, function_name)
    now = now_ms()
    m = EventSourceMapping(
        uuid=str(uuids.uuid4()), region=request.region, source_arn=str(body["EventSourceArn"]),
        function_name=resolved.name, function_arn=function_arn,
        batch_size=batch_size, window_s=window_s, enabled=settings.get("enabled", True), state=CREATING,
        changed_ms=now, filters=settings.get("filters", ()), response_types=settings.get("response_types", ()),
        max_concurrency=settings.get("max_concurrency"), tags=tags,
    )
    await _check_source(node, m, resolved)
    existing = await node.store.esm_create(m)
    if existing is not None:
        raise AwsError(409, "ResourceConflictException",
                       f'An event source mapping with SQS arn (" {m.source_arn} ") and function '
                       f'(" {function_arn.split(":function:", 1)[1]} ") already exists. Please update or delete '
                       f"the existing mapping with UUID {existing}")
    _wake(node, m)
    return json_response(shape(node, m, now), status=202)


async def _live(node: Node, uuid: str) -> EventSourceMapping:
    m = await node.store.esm_get(uuid)
    if m is None or m.state_at(now_ms()) is None:
        raise _not_found()
    return m


async def get_mapping(node: Node, request: Request, uuid: str) -> Response:
    return json_response(shape(node, await _live(node, uuid)))


async def update_mapping(node: Node, request: Request, uuid: str) -> Response:
    body = body_object(request)
    settings = params.settings_of(body)
    current = await _live(node, uuid)
    if current.deleting:
        raise AwsError(409, "ResourceInUseException",
                       f"Cannot update the event source mapping {uuid}: it is being deleted.")
    function_name = get_str(body, "FunctionName")
    merged = replace(current, **settings)
    params.check_batching(params.queue_arn(merged.source_arn).last_name, merged.batch_size, merged.window_s)
    if function_name:
        resolved, function_arn = await _function(node, request.region, function_name)
        settings.update(function_name=resolved.name, function_arn=function_arn)
        await _check_source(node, replace(merged, **settings), resolved)
    elif (current_function := await _current_function(node, current)) is not None:
        await _check_source(node, merged, current_function)
    now = now_ms()
    updated = await node.store.esm_update(uuid, lambda cur: cur.changed(now, **settings))
    if updated is None:
        raise _not_found()
    _wake(node, updated)
    return json_response(shape(node, updated, now), status=202)


async def delete_mapping(node: Node, request: Request, uuid: str) -> Response:
    await _live(node, uuid)
    now = now_ms()
    deleted = await node.store.esm_delete(uuid, now)
    if deleted is None:
        raise _not_found()
    _wake(node, deleted)
    return json_response(shape(node, deleted, now), status=202)


async def list_mappings(node: Node, request: Request) -> Response:
    limit = max_items(request, DEFAULT_LIST_ITEMS, params.MAX_BATCH)
    source = request.query.get("EventSourceArn") or None
    name = request.query.get("FunctionName") or None
    function_name = function_arn = None
    if name:
        ref = arn.parse_function_name(name)
        arn.check_scope(ref, request.region, node.settings.account_id)
        function_name = ref.name
        if ref.qualifier:
            function_arn = arn.function_arn(request.region, node.settings.account_id, ref.name, ref.qualifier)
    page = await node.store.esm_list(source_arn=source, function_name=function_name, function_arn=function_arn,
                                     after=request.query.get("Marker") or "", limit=limit + 1)
    now = now_ms()
    shown = [m for m in page[:limit] if m.state_at(now) is not None]
    out: dict[str, Any] = {"EventSourceMappings": [shape(node, m, now) for m in shown]}
    if len(page) > limit:
        out["NextMarker"] = page[limit - 1].uuid
    return json_response(out)


# ---- tags of a mapping's ARN ---------------------------------------------------------------------


def _tags_of(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise params.invalid("Tags must be a map of strings.")
    return dict(raw)


async def _tagged(node: Node, resource: str) -> EventSourceMapping:
    return await _live(node, unquote(resource).rsplit(":", 1)[-1])


async def list_tags(node: Node, request: Request, resource: str) -> Response:
    return json_response({"Tags": (await _tagged(node, resource)).tags})


async def tag_resource(node: Node, request: Request, resource: str) -> Response:
    m = await _tagged(node, resource)
    tags = _tags_of(body_object(request).get("Tags"))
    await node.store.esm_update(m.uuid, lambda cur: replace(cur, tags={**cur.tags, **tags}))
    return empty_response(204)


async def untag_resource(node: Node, request: Request, resource: str) -> Response:
    m = await _tagged(node, resource)
    keys = set(parse_qs(request.raw_query).get("tagKeys", []))
    await node.store.esm_update(m.uuid, lambda cur: replace(cur, tags={k: v for k, v in cur.tags.items()
                                                                       if k not in keys}))
    return empty_response(204)


_ID = r"(?P<uuid>[^/]+)"
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", _BASE + r"/?", create_mapping),
    ("GET", _BASE + r"/?", list_mappings),
    ("GET", rf"{_BASE}/{_ID}/?", get_mapping),
    ("PUT", rf"{_BASE}/{_ID}/?", update_mapping),
    ("DELETE", rf"{_BASE}/{_ID}/?", delete_mapping),
    ("GET", _TAGS, list_tags),
    ("POST", _TAGS, tag_resource),
    ("DELETE", _TAGS, untag_resource),
]
