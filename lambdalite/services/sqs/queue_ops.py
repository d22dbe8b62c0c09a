"""Queue operations: create, look up, list, delete, purge, attributes, tags. Params and results are
JSON-shaped (the JSON 1.0 protocol's), so the query protocol can reuse them after translation."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import orjson

from lambdalite.model.sqs import QueueRecord
from lambdalite.services.sqs import errors
from lambdalite.services.sqs import queue_attributes as qa
from lambdalite.services.sqs.common import (
    Ctx,
    Params,
    check_queue_name,
    integer,
    queue_of,
    string,
    string_list,
    string_map,
)

Result = dict[str, Any]


async def _dlq_exists(ctx: Ctx, given: dict[str, Any]) -> Callable[[str], bool]:
    """Whether the dead-letter queue a RedrivePolicy names exists (looked up before validation runs)."""
    known: set[str] = set()
    raw = given.get("RedrivePolicy")
    if isinstance(raw, str) and raw:
        try:
            target = orjson.loads(raw).get("deadLetterTargetArn")
        except (orjson.JSONDecodeError, AttributeError):
            target = None
        if isinstance(target, str) and await ctx.node.store.sqs_queue_by_arn(target) is not None:
            known.add(target)
    return known.__contains__


async def create_queue(ctx: Ctx, params: Params) -> Result:
    name = string(params, "QueueName", required=True)
    assert name is not None
    given = string_map(params, "Attributes")
    if str(given.get("FifoQueue", "")).lower() == "true":
        raise errors.fifo_unsupported()
    check_queue_name(name)
    arn = ctx.arn(name)
    settable = qa.check_settable(given, await _dlq_exists(ctx, given), own_arn=arn)
    tags = _check_tags(params.get("tags") or {})
    now_s = int(time.time())
    attrs = {k: v for k, v in {**qa.DEFAULTS, **settable}.items() if v != ""}
    existing = await ctx.node.store.sqs_create_queue(QueueRecord(ctx.region, name, arn, attrs, tags, now_s, now_s))
    if existing is not None:
        differing = [k for k, v in settable.items() if existing.attrs.get(k, "") != v]
        if differing:
            raise errors.SqsError(
                "QueueNameExists",
                f"A queue already exists with the same name and a different value for attribute {differing[0]}",
            )
    return {"QueueUrl": ctx.url(name)}


async def get_queue_url(ctx: Ctx, params: Params) -> Result:
    name = string(params, "QueueName", required=True)
    assert name is not None
    if await ctx.node.store.sqs_queue(ctx.region, name) is None:
        raise errors.no_queue()
    return {"QueueUrl": ctx.url(name)}


async def list_queues(ctx: Ctx, params: Params) -> Result:
    prefix = string(params, "QueueNamePrefix") or ""
    max_results = integer(params, "MaxResults")
    if max_results is not None and not 1 <= max_results <= 1000:
        raise errors.invalid_value("MaxResults", max_results, "MaxResults must be an integer between 1 and 1000.")
    token = string(params, "NextToken")
    after = _decode_token(token) if token else ""
    limit = max_results or 1000
    names = await ctx.node.store.sqs_list_names(ctx.region, prefix, after, limit + 1)
    result: Result = {}
    page = names[:limit]
    if page:
        result["QueueUrls"] = [ctx.url(n) for n in page]
    if max_results is not None and len(names) > limit:
        result["NextToken"] = base64.urlsafe_b64encode(orjson.dumps({"after": page[-1]})).decode()
    return result


def _decode_token(token: str) -> str:
    try:
        return str(orjson.loads(base64.urlsafe_b64decode(token.encode()))["after"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.invalid_parameter("Invalid NextToken value.") from None


async def delete_queue(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)

    await ctx.node.store.sqs_delete_queue(record.arn)
    return {}


async def purge_queue(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    await ctx.node.store.sqs_purge(record.arn)
    return {}


async def get_queue_attributes(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    names = qa.requested(string_list(params, "AttributeNames"))
    if not names:
        return {}
    want_all = "All" in names
    out: dict[str, str] = {}
    if want_all or names & {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    }:
        counts = await ctx.node.store.sqs_counts(record.arn, int(record.attrs["MessageRetentionPeriod"]))
        out["ApproximateNumberOfMessages"] = str(counts.visible)
        out["ApproximateNumberOfMessagesNotVisible"] = str(counts.in_flight)
        out["ApproximateNumberOfMessagesDelayed"] = str(counts.delayed)
    out["CreatedTimestamp"] = str(record.created_s)
    out["LastModifiedTimestamp"] = str(record.modified_s)
    out["QueueArn"] = record.arn
    out.update(record.attrs)
    return {"Attributes": out if want_all else {k: v for k, v in out.items() if k in names}}


async def set_queue_attributes(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    given = params.get("Attributes")
    if not isinstance(given, dict):
        raise errors.missing("Attributes")
    settable = qa.check_settable(given, await _dlq_exists(ctx, given), own_arn=record.arn)

    if not await ctx.node.store.sqs_set_attributes(record.arn, settable, int(time.time())):
        raise errors.no_queue()
    return {}


def _check_tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise errors.invalid_parameter("Tags must be a map of string keys to string values.")
    if len(tags) > 50:
        raise errors.invalid_parameter("Too many tags added for queue. A queue can have at most 50 tags.")
    return dict(tags)


async def tag_queue(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    added = _check_tags(params.get("Tags") or {})
    await _merge_tags(ctx, record.arn, added, [])
    return {}


async def untag_queue(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    keys = string_list(params, "TagKeys")
    await _merge_tags(ctx, record.arn, {}, keys)
    return {}


async def _merge_tags(ctx: Ctx, arn: str, added: dict[str, str], removed: list[str]) -> None:
    def merge(current: dict[str, str]) -> dict[str, str]:
        return _check_tags({k: v for k, v in {**current, **added}.items() if k not in removed})

    if not await ctx.node.store.sqs_set_tags(arn, merge):
        raise errors.no_queue()


async def list_queue_tags(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    return {"Tags": record.tags} if record.tags else {}


async def list_dead_letter_source_queues(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    records = await ctx.node.store.sqs_queues(ctx.region)
    names = [r.name for r in records if (qa.redrive_of(r.attrs) or ("", 0))[0] == record.arn]
    return {"queueUrls": [ctx.url(n) for n in names]}
