"""Bucket operations: Create/Head/Delete/ListBuckets, GetBucketLocation, the notification configuration."""

from __future__ import annotations

import logging
import uuid

from lambdalite import arn
from lambdalite.clock import now_ms
from lambdalite.destinations import s3_notify
from lambdalite.destinations.sns_message import Published
from lambdalite.destinations.sns_publish import publish
from lambdalite.faults import Fault
from lambdalite.model.s3 import BucketRecord
from lambdalite.services.http import Response, empty_response
from lambdalite.services.s3 import notify_config, notify_events
from lambdalite.services.s3.context import Call, check_bucket_name
from lambdalite.services.s3.wire import element, iso_ms, parse_xml, s3_error, xml_response

log = logging.getLogger(__name__)

US_EAST_1 = "us-east-1"
_INCOMPATIBLE = "location constraint is incompatible for the region specific endpoint this request was sent to."


def _owner(call: Call) -> str:
    return f"<Owner>{element('ID', call.account.rjust(64, '0'))}{element('DisplayName', 'lambdalite')}</Owner>"


async def list_buckets(call: Call) -> Response:
    buckets = await call.node.store.s3_list_buckets()
    inner = "".join(f"<Bucket>{element('Name', b.name)}{element('CreationDate', iso_ms(b.created_ms))}</Bucket>"
                    for b in buckets)
    return xml_response("ListAllMyBucketsResult", f"{_owner(call)}<Buckets>{inner}</Buckets>")


def _constraint(call: Call) -> str | None:
    body = call.request.body
    if not body.strip():
        return None
    root = parse_xml(body)
    if root.tag != "CreateBucketConfiguration":
        raise s3_error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against "
                       "our published schema")
    found = root.find("LocationConstraint")
    return (found.text or None) if found is not None else None


async def create_bucket(call: Call) -> Response:
    check_bucket_name(call.bucket)
    signed_region = call.request.region
    constraint = _constraint(call)
    if constraint is None and signed_region != US_EAST_1:
        raise s3_error(400, "IllegalLocationConstraintException", f"The unspecified {_INCOMPATIBLE}")
    if constraint is not None and constraint != signed_region and signed_region != US_EAST_1:
        raise s3_error(400, "IllegalLocationConstraintException", f"The {constraint} {_INCOMPATIBLE}")
    region = constraint or US_EAST_1
    existing = await call.node.store.s3_create_bucket(BucketRecord(call.bucket, region, now_ms()))
    if existing is not None and signed_region != US_EAST_1:
        raise s3_error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded "
                       "and you already own it.", BucketName=call.bucket)
    return empty_response(200, [("Location", f"/{call.bucket}")])


async def head_bucket(call: Call) -> Response:
    bucket = await call.bucket_record()
    return empty_response(200, [("x-amz-bucket-region", bucket.region)])


async def delete_bucket(call: Call) -> Response:
    result = await call.node.store.s3_delete_bucket(call.bucket)
    if result == "missing":
        await call.bucket_record()  # raises NoSuchBucket
    if result == "not_empty":
        raise s3_error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", BucketName=call.bucket)
    if isinstance(result, list):
        await call.drop_bodies(result)
    return empty_response(204)


async def get_location(call: Call) -> Response:
    bucket = await call.bucket_record()
    region = "" if bucket.region == US_EAST_1 else bucket.region
    return xml_response("LocationConstraint", region)


async def get_notification(call: Call) -> Response:
    bucket = await call.bucket_record()
    return xml_response("NotificationConfiguration", notify_config.Notification.from_json(bucket.notification).to_xml())


async def put_notification(call: Call) -> Response:
    await call.bucket_record()
    config = notify_config.parse(parse_xml(call.request.body))
    if call.header("x-amz-skip-destination-validation").lower() != "true":
        await _check_destinations(call, config)
    if not await call.node.store.s3_set_notification(call.bucket, config.to_json()):
        await call.bucket_record()
    await _send_test_events(call, config)
    return empty_response(200)


async def _check_destinations(call: Call, config: notify_config.Notification) -> None:
    problems: list[tuple[str, str]] = []
    for c in config.configs:
        if c.kind == "queue" and await call.node.store.sqs_queue_by_arn(c.arn) is None:
            problems.append((c.arn, "The destination queue does not exist"))
        elif c.kind == "topic" and await call.node.store.sns_topic(c.arn) is None:
            problems.append((c.arn, "The destination topic does not exist"))
        elif c.kind == "lambda":
            parsed = arn.parse(c.arn)
            ref = arn.function_of(parsed) if parsed is not None else None
            if ref is None or await call.node.store.find_target(ref[0], ref[1] or arn.LATEST) is None:
                problems.append((f"{c.arn}, null", f"Not authorized to invoke function [{c.arn}]"))
    if problems:
        raise notify_config.destination_errors(problems)


async def _send_test_events(call: Call, config: notify_config.Notification) -> None:
    """AWS sends each queue and topic an s3:TestEvent on a PUT (best effort: the configuration is already saved)."""
    ports = call.node.ports
    if ports is None:
        return
    message = notify_events.test_event(call.bucket, now_ms(), call.request_id, call.host_id)
    for c in config.configs:
        if c.kind not in ("queue", "topic"):
            continue
        try:
            if c.kind == "queue":
                await ports.send_sqs(c.arn, message, None)
            else:
                published = Published(str(uuid.uuid4()), c.arn, message, s3_notify.SUBJECT, {}, now_ms())
                await publish(call.node, published)
        except Fault as err:
            log.warning("s3: could not send the test event to %s: %s", c.arn, err.message)
