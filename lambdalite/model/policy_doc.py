"""Lambda resource-based policies (AddPermission / GetPolicy): pure statement building, no I/O.

A function's (or a qualifier's) policy is a list of statements; GetPolicy shows them in AWS's document
shape: {"Version":"2012-10-17","Id":"default","Statement":[...]}. AddPermission's answer is the one
statement as a JSON string.
"""

from __future__ import annotations

from typing import Any

import orjson

POLICY_VERSION = "2012-10-17"
POLICY_ID = "default"
PRECONDITION = ("The Revision Id provided does not match the latest Revision Id. "
                "Call the GetPolicy API to retrieve the latest Revision Id")


def statement(sid: str, action: str, principal: str, resource: str, *, source_arn: str | None = None,
              source_account: str | None = None, principal_org_id: str | None = None,
              event_source_token: str | None = None, url_auth_type: str | None = None) -> dict[str, Any]:
    """One statement as AWS writes it: a service principal as {"Service": ...}, an account id or ARN as
    {"AWS": ...}, "*" as is; conditions from SourceArn / SourceAccount / PrincipalOrgID / token / URL auth."""
    shown: Any
    if principal == "*":
        shown = "*"
    elif principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        shown = {"Service": principal}
    elif principal.isdigit():
        shown = {"AWS": f"arn:aws:iam::{principal}:root"}
    else:
        shown = {"AWS": principal}
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": shown, "Action": action,
                           "Resource": resource}
    condition: dict[str, dict[str, str]] = {}
    if source_account:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = source_account
    if principal_org_id:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = principal_org_id
    if event_source_token:
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = event_source_token
    if url_auth_type:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = url_auth_type
    if source_arn:
        condition["ArnLike"] = {"AWS:SourceArn": source_arn}
    if condition:
        out["Condition"] = condition
    return out


def document(statements: list[dict[str, Any]]) -> str:
    """GetPolicy's Policy string."""
    return orjson.dumps({"Version": POLICY_VERSION, "Id": POLICY_ID, "Statement": statements}).decode()


def find(statements: list[dict[str, Any]], sid: str) -> dict[str, Any] | None:
    return next((s for s in statements if s.get("Sid") == sid), None)
