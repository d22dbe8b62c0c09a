"""AddPermission / RemovePermission: one statement per Label in the queue's `Policy` attribute, as SQS
keeps them (GetQueueAttributes shows it; SetQueueAttributes may replace it whole). lambdalite stores
the policy and does not evaluate it (docs/decisions.md)."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from lambdalite.services.sqs import errors
from lambdalite.services.sqs.common import Ctx, Params, queue_of, string, string_list

Result = dict[str, Any]
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACTION = re.compile(r"\*|[A-Za-z]{1,64}")
_ACCOUNT = re.compile(r"\d{12}")


def _label(params: Params) -> str:
    label = string(params, "Label", required=True) or ""
    if not _LABEL.fullmatch(label):
        raise errors.invalid_value("Label", label, "Can only include alphanumeric characters, hyphens, or underscores. "
                                   "1 to 80 in length")
    return label


def _policy(attrs: dict[str, str]) -> dict[str, Any]:
    try:
        policy = orjson.loads(attrs.get("Policy") or "{}")
    except orjson.JSONDecodeError:
        policy = {}
    return policy if isinstance(policy, dict) else {}


async def _save(ctx: Ctx, arn: str, policy: dict[str, Any]) -> None:
    value = orjson.dumps(policy).decode() if policy.get("Statement") else ""  # "": no statement left, no policy
    if not await ctx.node.store.sqs_set_attributes(arn, {"Policy": value}, int(time.time())):
        raise errors.no_queue()


async def add_permission(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    label = _label(params)
    accounts, actions = string_list(params, "AWSAccountIds"), string_list(params, "Actions")
    if not accounts:
        raise errors.missing("AWSAccountIds")
    if not actions:
        raise errors.missing("Actions")
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise errors.invalid_value("AWSAccountIds", account, "Must be a 12-digit AWS account id.")
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise errors.invalid_value("Actions", action, "Must be * or the name of an SQS action.")
    policy = _policy(record.attrs)
    statements = [s for s in policy.get("Statement", []) if isinstance(s, dict)]
    if any(s.get("Sid") == label for s in statements):
        raise errors.invalid_value("Label", label, "Already exists.")
    principals = [f"arn:aws:iam::{account}:root" for account in accounts]
    statements.append({"Sid": label, "Effect": "Allow",
                       "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                       "Action": [f"SQS:{a}" for a in actions] if len(actions) > 1 else f"SQS:{actions[0]}",
                       "Resource": record.arn})
    await _save(ctx, record.arn, {"Version": "2012-10-17", "Id": f"{record.arn}/SQSDefaultPolicy", **policy,
                                  "Statement": statements})
    return {}


async def remove_permission(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    label = _label(params)
    policy = _policy(record.attrs)
    statements = [s for s in policy.get("Statement", []) if isinstance(s, dict)]
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise errors.invalid_value("Label", label, "can't find label.")
    await _save(ctx, record.arn, {**policy, "Statement": kept})
    return {}
