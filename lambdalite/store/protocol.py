"""The Store protocol: every byte of lambdalite's state goes through these operations.

Each operation is one unit of work (one transaction in SQL): services validate and shape, the store
only executes. Records come back as `model/` types; deliberate refusals are `store.errors` faults.
Operations are async wherever a backend may touch disk or the network; the few synchronous ones only
touch this process's memory (slot bookkeeping, the configuration cache's key space).

Backends: `sqlite/` (the embedded default) and `postgres/` (many nodes on one database).
`open_store(settings)` picks one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lambdalite.model.bus import BusRecord, RoutedTarget, RuleRecord
from lambdalite.model.esm import EventSourceMapping
from lambdalite.model.event import QueuedEvent
from lambdalite.model.event_config import EventConfig
from lambdalite.model.function import FunctionRow, FunctionTarget
from lambdalite.model.function_log import FunctionLogs, LogChunk, LogWrite
from lambdalite.model.history import Activity, DeliveryRecord, EventDetail, EventQuery, EventRow
from lambdalite.model.layer import LayerVersionRow
from lambdalite.model.log_group import LogGroupRow
from lambdalite.model.outcome import Outcome
from lambdalite.model.queue import AttemptEnd, Leased, Message, NewMessage, QueueCounts, QueueRow
from lambdalite.model.s3 import BucketRecord, Dropped, ObjectRecord, PartRecord, UploadRecord
from lambdalite.model.schedule import ScheduleState
from lambdalite.model.sns import SubscriptionRecord, TopicRecord
from lambdalite.model.sqs import MoveTaskRecord, QueueRecord, VisibilityChange
from lambdalite.wakeups import Wakeups

T = TypeVar("T")


class ConfigCache(Protocol):
    async def cached(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s value, reused until any function, version, alias or event invoke config changes
        (in any process): the hot path (every accept, every attempt) reads no configuration at all."""
        ...


class FunctionsStore(Protocol):
    async def get_function(self, name: str) -> FunctionRow | None: ...
    async def function_exists(self, name: str) -> bool: ...
    async def find_target(self, name: str, qualifier: str) -> FunctionTarget | None:
        """Resolve `qualifier` ($LATEST, version, alias) of `name` in one snapshot; None when missing."""
        ...
    async def get_version(self, name: str, version: str) -> dict[str, Any] | None: ...
    async def get_alias(self, name: str, alias: str) -> dict[str, Any] | None: ...
    async def reserved_concurrency_total(self, excluding: str | None = None) -> int: ...
    async def list_functions(self, after: str, limit: int) -> tuple[list[FunctionRow], bool]: ...
    async def list_versions(self, name: str) -> list[dict[str, Any]]: ...
    async def list_aliases(self, name: str) -> list[dict[str, Any]]: ...
    async def code_usage(self) -> tuple[int, int]:
        """(function count, total code bytes of every stored version) for GetAccountSettings."""
        ...
    async def create_function(self, config: dict[str, Any], code_sha: str, publish: bool) -> dict[str, Any]: ...
    async def update_latest(
        self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]], code_sha: str | None, publish: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """Apply `change(config) -> config` (pure) to $LATEST; returns (answer config, unused code shas)."""
        ...
    async def publish_version(self, name: str, description: str | None) -> dict[str, Any]: ...
    async def delete_function(self, name: str) -> list[str]: ...
    async def delete_version(self, name: str, version: str) -> list[str]: ...
    async def put_alias(self, name: str, alias: str, config: dict[str, Any], *, create: bool) -> dict[str, Any]: ...
    async def delete_alias(self, name: str, alias: str) -> bool: ...
    async def set_reserved_concurrency(self, name: str, reserved: int | None, max_total: int | None = None) -> None:
        """Set (None clears); with `max_total`, raise LimitExceeded when all reservations would pass it."""
        ...
    async def set_recursion(self, name: str, mode: str) -> None: ...


class EventConfigsStore(Protocol):
    async def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        """Served from the configuration cache (the attempt reads it for every event)."""
        ...
    async def put_event_config(
        self, function: str, qualifier: str, config: dict[str, Any], now_ms: int
    ) -> EventConfig: ...
    async def update_event_config(
        self, function: str, qualifier: str, merge: Callable[[dict[str, Any]], dict[str, Any]], now_ms: int
    ) -> EventConfig | None: ...
    async def delete_event_config(self, function: str, qualifier: str) -> bool: ...
    async def delete_event_invoke_configs(self, function: str, qualifier: str | None) -> int: ...
    async def list_event_configs(self, function: str, after: str | None, limit: int) -> list[EventConfig]: ...


class EventQueueStore(Protocol):
    """The per-function queues of async events and the concurrency slots their attempts hold."""

    async def accept_event(self, event: QueuedEvent, payload: bytes, *, lease_ms: int | None = None,
                           receipt: str | None = None) -> Leased | None:
        """The 202's durable write. With `lease_ms`, the event is queued already leased to this process
        (direct dispatch) with its concurrency slot claimed, as `lease_events` would have: returned."""
        ...
    async def lease_events(self, limit: int, lease_ms: int) -> list[Leased]:
        """Lease due events and, in the same transaction, claim their concurrency slots."""
        ...
    async def finish_attempt(self, message: Message, end: AttemptEnd) -> bool:
        """One transaction: release the slot, then reschedule the event (a retry) or delete it, record
        its outcome and queue its delivery jobs. False when the lease was lost (nothing changed but
        the slot)."""
        ...
    async def discard_event(self, message: Message, slot_id: int | None) -> None: ...
    async def renew_leases(self, leases: list[tuple[str, str]], visible_ms: int) -> int: ...
    async def next_due_ms(self, kind: str) -> int | None: ...

    async def acquire_slot(self, function: str, reserved: int | None) -> int | str:
        """A slot for an invocation now (id), or the 429 Reason when none is free."""
        ...
    def hold_slots(self, slot_ids: Iterable[int]) -> None: ...
    def drop_slot(self, slot_id: int) -> None: ...
    async def release_slot(self, slot_id: int) -> None: ...
    async def renew_slots(self) -> None: ...

    async def queue_report(self, at_ms: int) -> list[QueueRow]:
        """Per function: queued, in flight, delayed, oldest event (`lambdalite queue`)."""
        ...


class JobStore(Protocol):
    """Background delivery jobs (destinations, EventBridge targets): the one job loop's queue."""

    async def enqueue_jobs(self, jobs: list[NewMessage]) -> None:
        """Queue jobs; one whose id is already queued is kept, not duplicated."""
        ...
    async def lease_jobs(self, kind: str, lease_ms: int, limit: int) -> list[Message]: ...
    async def delete_job(self, id: str, receipt: str | None) -> bool: ...
    async def retry_job(self, id: str, receipt: str | None, visible_ms: int) -> bool: ...


class OutcomesStore(Protocol):
    async def get_outcome(self, request_id: str) -> Outcome | None: ...
    async def prune_outcomes(self, ended_before_ms: int) -> int: ...


class HistoryStore(Protocol):
    """Event history: the browser over live and ended events, attempts (written by `finish_attempt`),
    delivery results, activity for the console's charts; pruned like the outcomes."""

    async def list_events(self, query: EventQuery, at_ms: int) -> list[EventRow]:
        """One page, newest first (live events by accept time, ended ones by end time)."""
        ...
    async def get_event(self, request_id: str, at_ms: int) -> EventDetail | None: ...
    async def record_delivery(self, delivery: DeliveryRecord) -> None: ...
    async def event_activity(self, after: int | None) -> tuple[Activity, int]:
        """Attempts recorded after the cursor `after`, by what came of them, and the next cursor (None:
        nothing counted, only the cursor of now)."""
        ...
    async def prune_history(self, ended_before_ms: int) -> int: ...


class SqsStore(Protocol):
    async def sqs_queue(self, region: str, name: str) -> QueueRecord | None: ...
    async def sqs_queue_by_arn(self, arn: str) -> QueueRecord | None: ...
    async def sqs_list_names(self, region: str, prefix: str, after: str, limit: int) -> list[str]: ...
    async def sqs_queues(self, region: str) -> list[QueueRecord]: ...
    async def sqs_create_queue(self, record: QueueRecord) -> QueueRecord | None:
        """Insert the queue unless one of that name exists: then return the existing one."""
        ...
    async def sqs_delete_queue(self, arn: str) -> None: ...
    async def sqs_purge(self, arn: str) -> int: ...
    async def sqs_set_attributes(self, arn: str, settable: dict[str, str], modified_s: int) -> bool:
        """Merge attributes (an empty value removes one); False when the queue is gone."""
        ...
    async def sqs_set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        """Replace the tags with `merge(current)` (pure; may raise a Fault); False when the queue is gone."""
        ...
    async def sqs_counts(self, arn: str, retention_s: int) -> QueueCounts:
        """Drop messages past retention, then count."""
        ...
    async def sqs_send(self, arn: str, messages: list[NewMessage]) -> bool:
        """Insert messages; False (nothing inserted) when the queue no longer exists."""
        ...
    async def sqs_receive(self, arn: str, *, retention_s: int, redrive: tuple[str, int] | None, limit: int,
                          visibility_ms: int) -> list[Message]:
        """Expire old messages, lease up to `limit`, and move over-received ones to the dead-letter
        queue `redrive` = (its ARN, maxReceiveCount) when that queue exists."""
        ...
    async def sqs_next_due_ms(self, arn: str) -> int | None: ...
    async def sqs_delete(self, arn: str, message_ids: list[str]) -> None:
        """Delete messages of this queue (ids of other queues' messages are ignored)."""
        ...
    async def sqs_change_visibility(self, arn: str, changes: list[VisibilityChange]) -> list[str]:
        """Apply each change: "ok", "missing" (not a message of this queue) or "not_in_flight"."""
        ...


class MoveTasksStore(Protocol):
    """SQS message move tasks (DLQ redrives): recorded by the API, moved by a runner on any node."""

    async def sqs_move_task_start(self, task: MoveTaskRecord, kept: int) -> bool:
        """Record a new task unless its source has an active one (False); keep the `kept` newest per source."""
        ...
    async def sqs_move_tasks(self, source_arn: str, limit: int) -> list[MoveTaskRecord]:
        """The source's tasks, newest first."""
        ...
    async def sqs_move_task(self, handle: str) -> MoveTaskRecord | None: ...
    async def sqs_move_task_cancel(self, handle: str, stale_before_ms: int) -> MoveTaskRecord | None:
        """A RUNNING task becomes CANCELLING (CANCELLED at once when no live runner holds it, one that has
        not reported since `stale_before_ms`); the task as it is afterwards, None when unknown."""
        ...
    async def sqs_move_task_claim(self, owner: str, now_ms: int, stale_before_ms: int) -> MoveTaskRecord | None:
        """Take an active task no live runner holds (never run, or silent since `stale_before_ms`); `owner`
        is a fresh token per claim, so a runner that stalled learns it lost the task."""
        ...
    async def sqs_move_task_report(self, handle: str, owner: str, *, moved: int, status: str, failure: str | None,
                                   now_ms: int) -> MoveTaskRecord | None:
        """The runner's progress (a RUNNING report leaves CANCELLING as it is); the task as stored, or None
        when `owner` no longer holds it or the task has ended (a final status is never changed)."""
        ...


class BusesStore(Protocol):
    async def ensure_bus(self, region: str, name: str, arn: str, now_s: int) -> None: ...
    async def create_bus(self, region: str, record: BusRecord) -> None: ...
    async def delete_bus(self, region: str, name: str) -> bool: ...
    async def get_bus(self, region: str, name: str) -> BusRecord | None: ...
    async def list_buses(self, region: str, prefix: str, after: str, limit: int) -> list[BusRecord]: ...
    async def put_rule(self, region: str, rule: RuleRecord, now_s: int) -> None: ...
    async def get_rule(self, region: str, bus: str, name: str) -> RuleRecord | None: ...
    async def list_rules(self, region: str, bus: str, prefix: str, after: str,
                         limit: int) -> list[RuleRecord] | None:
        """None when the bus does not exist."""
        ...
    async def set_rule_state(self, region: str, bus: str, name: str, state: str) -> None: ...
    async def delete_rule(self, region: str, bus: str, name: str) -> None: ...
    async def put_targets(self, region: str, bus: str, rule: str, targets: list[dict[str, Any]]) -> None: ...
    async def remove_targets(self, region: str, bus: str, rule: str, ids: list[str]) -> None: ...
    async def list_targets(self, region: str, bus: str, rule: str, after_seq: int,
                           limit: int) -> list[tuple[int, dict[str, Any]]]: ...
    async def rule_names_by_target(self, region: str, bus: str, target_arn: str) -> list[str] | None:
        """The names (sorted) of the bus's rules with a target of that ARN; None when the bus is missing."""
        ...
    async def routed_targets(self, region: str, bus: str) -> list[RoutedTarget]:
        """Targets of the bus's enabled pattern rules: what PutEvents routes an event to."""
        ...


class SpooledBody(Protocol):
    """A request body complete in a temp file on this node's disk (S3's spool), hashed by its owner."""

    path: Path
    size: int
    kept: bool  # set by a store that took the file over itself: its owner then leaves the path alone

    def close(self) -> None:
        """Flush and close the file; OSError when the body could not be written whole."""
        ...


class S3BodiesStore(Protocol):
    """S3 object and part bodies, named by an id (`blob`) the metadata rows carry. A body is durable when
    its call returns, before any row names it; one body per written object or part (never shared), so
    dropping a row's body never touches another's. A crash may leave an orphan body, never a row naming a
    missing one. Bodies stream: no call holds a whole body in memory."""

    async def s3_body_keep(self, spool: SpooledBody) -> str:
        """Make a complete spool a body (its file moved or copied where every node finds it); its id."""
        ...
    async def s3_body_write_bytes(self, data: bytes) -> str:
        """A small body from memory (a destination's record); its id."""
        ...
    async def s3_body_open(self, blob: str, offset: int, length: int) -> AsyncIterator[bytes] | None:
        """`length` bytes of the body from `offset`, read as they are sent; None when the body is gone.
        A body opened stays readable to its end even if it is deleted meanwhile."""
        ...
    async def s3_body_concatenate(self, blobs: list[str]) -> str | None:
        """A new body holding these bodies one after another (CompleteMultipartUpload); None when one is gone."""
        ...
    async def s3_body_copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str] | None:
        """A new body with `length` bytes of another from `offset` (CopyObject, UploadPartCopy): (its id,
        the hex MD5 of those bytes); None when the source is gone."""
        ...
    async def s3_body_delete(self, blobs: list[str]) -> None:
        """Drop bodies no row names any more (after the change that stopped naming them committed);
        ids of missing bodies are ignored. Opening one fails at once; its space may be freed later
        (`s3_prune_bodies`) where a download already under way still reads it."""
        ...
    async def s3_prune_bodies(self, at_ms: int) -> int:
        """Free the space of deleted bodies no download can still be reading (maintenance); how many."""
        ...


class S3Store(Protocol):
    """S3 metadata; its bodies are S3BodiesStore's. Writes that drop bodies return their ids
    (`Dropped.blobs`) for the caller to delete after the commit; object writes commit their notification
    jobs in the same transaction."""

    async def s3_create_bucket(self, record: BucketRecord) -> BucketRecord | None:
        """Create the bucket; when one of that name exists, return it (nothing changed)."""
        ...
    async def s3_get_bucket(self, name: str) -> BucketRecord | None: ...
    async def s3_list_buckets(self) -> list[BucketRecord]: ...
    async def s3_delete_bucket(self, name: str) -> str | list[str]:
        """"missing", "not_empty", or the bodies of the incomplete uploads dropped with it."""
        ...
    async def s3_set_notification(self, name: str, config: str | None) -> bool: ...
    async def s3_get_object(self, bucket: str, key: str) -> ObjectRecord | None: ...
    async def s3_put_object(self, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped: ...
    async def s3_delete_objects(self, bucket: str, keys: list[str], jobs: list[NewMessage]) -> Dropped: ...
    async def s3_list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRecord] | None:
        """Keys starting with `prefix`, after `after`, in UTF-8 binary order; None when the bucket is missing."""
        ...
    async def s3_create_upload(self, record: UploadRecord) -> bool: ...
    async def s3_get_upload(self, upload_id: str) -> UploadRecord | None: ...
    async def s3_put_part(self, part: PartRecord) -> Dropped: ...
    async def s3_list_parts(self, upload_id: str) -> list[PartRecord]: ...
    async def s3_list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]: ...
    async def s3_abort_upload(self, upload_id: str) -> Dropped: ...
    async def s3_complete_upload(self, upload_id: str, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
        """The upload becomes `record` (its parts' bodies dropped), its jobs queued, atomically."""
        ...
    async def s3_notification_report(self, at_ms: int) -> list[QueueRow]:
        """Per bucket (name in `function`): notifications queued, in flight, delayed (`lambdalite queue`)."""
class EventSourceMappingsStore(Protocol):
    """SQS event source mappings (model/esm.py): the API's records and what the pollers follow."""

    async def esm_create(self, mapping: EventSourceMapping) -> str | None:
        """Insert unless a live mapping joins the same queue and function ARN: then that one's UUID."""
        ...
    async def esm_get(self, uuid: str) -> EventSourceMapping | None:
        """The mapping (a deleted one too, until it is purged)."""
        ...
    async def esm_update(self, uuid: str,
                         change: Callable[[EventSourceMapping], EventSourceMapping]) -> EventSourceMapping | None:
        """Replace the mapping with `change(current)` (pure; may raise a Fault); None when missing."""
        ...
    async def esm_delete(self, uuid: str, now_ms: int) -> EventSourceMapping | None:
        """Mark the mapping Deleting (pollers stop); None when missing."""
        ...
    async def esm_list(self, *, source_arn: str | None = None, function_name: str | None = None,
                       function_arn: str | None = None, after: str = "",
                       limit: int = 10_000) -> list[EventSourceMapping]:
        """Mappings ordered by UUID after `after`, deleted ones included, narrowed by the filters set."""
        ...


class SchedulesStore(Protocol):
    """Scheduled rules' next ticks. A rule's put, state change or delete keeps its row in step (in the
    same transaction): a new, re-enabled or changed schedule is anchored at that moment."""

    async def due_schedules(self, at_ms: int, limit: int) -> list[ScheduleState]:
        """Enabled scheduled rules whose next tick is at or before `at_ms`, earliest first."""
        ...
    async def next_schedule_ms(self) -> int | None: ...
    async def advance_schedule(self, state: ScheduleState, next_ms: int | None,
                               jobs: Callable[[list[dict[str, Any]]], list[NewMessage]] | None) -> bool:
        """Compare-and-set the rule's next tick from `state.next_ms` to `next_ms` and, when this call
        moved it and `jobs` is given, queue `jobs(the rule's current targets)` (pure) in the same
        transaction. False when another process moved it first (or the rule changed): fire nothing."""
        ...


class SnsStore(Protocol):
    """SNS topics and subscriptions; Publish commits its deliveries (jobs) in the same unit of work."""

    async def sns_create_topic(self, record: TopicRecord) -> TopicRecord:
        """Insert the topic unless one with that ARN exists: then return the existing one."""
        ...
    async def sns_topic(self, arn: str) -> TopicRecord | None: ...
    async def sns_list_topics(self, region: str, after: str, limit: int) -> list[TopicRecord]: ...
    async def sns_set_topic_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        """Merge attributes; False when the topic is gone."""
        ...
    async def sns_set_topic_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        """Replace the tags with `merge(current)` (pure; may raise a Fault); False when the topic is gone."""
        ...
    async def sns_delete_topic(self, arn: str) -> None:
        """Delete the topic and its subscriptions (nothing when it is missing)."""
        ...
    async def sns_subscribe(self, record: SubscriptionRecord, jobs: list[NewMessage]) -> SubscriptionRecord | None:
        """Insert the subscription and queue `jobs` with it (an http(s) confirmation request), or return
        the topic's existing one for the same protocol and endpoint (queueing nothing); None when the
        topic does not exist."""
        ...
    async def sns_subscription(self, arn: str) -> SubscriptionRecord | None: ...
    async def sns_list_subscriptions(self, region: str, topic_arn: str | None, after: str,
                                     limit: int) -> list[SubscriptionRecord]:
        """By ARN after `after`; every topic of the region, or one topic's."""
        ...
    async def sns_set_subscription_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        """Merge attributes (an empty value removes one); False when the subscription is gone."""
        ...
    async def sns_confirm_subscription(self, topic_arn: str, token: str, now_ms: int) -> SubscriptionRecord | None:
        """Confirm the topic's subscription holding this unexpired token (None: no such token)."""
        ...
    async def sns_unsubscribe(self, arn: str) -> None: ...
    async def sns_publish(self, topic_arn: str,
                          fan_out: Callable[[list[SubscriptionRecord]], list[NewMessage]]) -> bool:
        """One unit of work: read the topic's confirmed subscriptions, queue the jobs `fan_out` (pure)
        makes of them. False (nothing queued) when the topic does not exist."""
        ...
    async def sns_delivery_report(self, at_ms: int) -> list[QueueRow]:
        """Per topic (ARN in `function`): deliveries queued, in flight, delayed for retry (`lambdalite queue`)."""
        ...


class TagsStore(Protocol):
    """Tags of any resource (Lambda functions, EventBridge buses and rules), keyed by its ARN."""

    async def get_tags(self, arn: str) -> dict[str, str]: ...
    async def set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str]:
        """Replace the tags with `merge(current)` (pure; may raise a Fault); returns them."""
        ...
    async def delete_tags(self, arn_prefix: str) -> int:
        """Forget the tags of `arn_prefix` and of every ARN under it (`prefix:...`), as a resource goes."""
        ...


class PermissionsStore(Protocol):
    """Lambda resource-based policy statements per function qualifier ("" is the unqualified function)."""

    async def get_policy(self, function: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        """(statements, revision id), or None when there is no statement."""
        ...
    async def change_policy(
        self, function: str, qualifier: str,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], revision_id: str | None,
    ) -> str:
        """Replace the statements with `change(current)` (pure; may raise a Fault) and return the new
        revision id; `revision_id` given and not the current one: PreconditionFailed (the Fault)."""
        ...
    async def delete_policies(self, function: str, qualifier: str | None) -> None:
        """Forget the statements of one qualifier, or of the whole function (None)."""
        ...


class LayersStore(Protocol):
    async def publish_layer_version(self, name: str, make: Callable[[int], dict[str, Any]], code_sha: str,
                                    now_ms: int) -> LayerVersionRow:
        """The next version number of `name` (never reused, even after a delete) -> `make(version)` is its
        configuration (pure)."""
        ...
    async def get_layer_version(self, name: str, version: int, *, deleted: bool = False) -> LayerVersionRow | None:
        """One version; a deleted one only with `deleted=True` (functions that use it keep running it)."""
        ...
    async def list_layer_versions(self, name: str) -> list[LayerVersionRow]:
        """Live versions of one layer, newest first."""
        ...
    async def list_layers(self) -> list[LayerVersionRow]:
        """The newest live version of every layer, by name."""
        ...
    async def delete_layer_version(self, name: str, version: int) -> bool: ...


class LogGroupsStore(Protocol):
    async def get_log_group(self, name: str) -> LogGroupRow | None: ...
    async def list_log_groups(self) -> list[LogGroupRow]: ...
    async def put_log_group(self, name: str, *, now_ms: int, explicit: bool | None = None,
                            retention_days: int | None = None, clear_retention: bool = False,
                            create_only: bool = False) -> LogGroupRow:
        """Create or change a group's row; with `create_only` an existing explicit group is AlreadyExists."""
        ...
    async def delete_log_group(self, name: str) -> bool: ...


class FunctionLogsStore(Protocol):
    """Functions' log text, where every node that serves the Logs API or `lambdalite logs` can read it.

    Logs are not a promise the way a 202 is: an append may be lost in a crash, and each function keeps
    about (LAMBDALITE_LOG_KEEP_FILES + 1) x LAMBDALITE_LOG_MAX_BYTES, its oldest text dropped first."""

    async def append_function_logs(self, chunks: Sequence[LogChunk]) -> None:
        """Store one flush of the runtime's LogBook (every function's writes since the last): one batch."""
        ...
    async def read_function_logs(self, function: str, *, since_ms: int = 0) -> list[LogWrite]:
        """The function's writes in the order they were stored (from `since_ms`, when given)."""
        ...
    async def list_function_logs(self) -> list[FunctionLogs]:
        """Every function with logs stored, by name."""
        ...
    async def delete_function_logs(self, function: str) -> None: ...
    async def expire_function_logs(self, function: str, retention_days: int, now_ms: int) -> None:
        """Drop (at least some of) the writes older than the retention; readers hide the rest."""
        ...
    def tail_function_logs(self, function: str, *, follow: bool) -> AsyncIterator[bytes]:
        """The function's text as `lambdalite logs` prints it; with `follow`, new text as it is stored
        (until cancelled)."""
        ...


class NodeStore(Protocol):
    """What differs between processes on one data folder (SQLite) and nodes on one database."""

    # True when work committed by other processes wakes this one (`attach`): its loops' fallback polls
    # can then be slow; False when those polls are how other processes' work is found.
    wakeups_cross_process: bool

    async def attach(self, wakeups: Wakeups) -> None:
        """At a node's start: connect now (StoreUnavailable when the database cannot be reached) and turn
        work committed by other processes into notifications of this process's `wakeups`."""
        ...
    async def shared_secret(self, name: str, new: bytes) -> bytes | None:
        """A secret every node must agree on (`new` when none is stored yet); None: the data folder keeps it."""
        ...
    async def save_code(self, sha256_hex: str, zip_bytes: bytes) -> None:
        """Keep a code archive where every node finds it (a no-op where the data folder is the store)."""
        ...
    async def load_code(self, sha256_hex: str) -> bytes | None:
        """A code archive this node's local cache lacks; None when the store keeps none."""
        ...
    async def delete_code(self, sha256_hex: str) -> None:
        """Forget a code archive no function version uses any more."""
        ...


class Store(
    ConfigCache,
    NodeStore,
    FunctionsStore,
    EventConfigsStore,
    EventQueueStore,
    JobStore,
    OutcomesStore,
    HistoryStore,
    SqsStore,
    MoveTasksStore,
    BusesStore,
    S3Store,
    S3BodiesStore,
    EventSourceMappingsStore,
    SchedulesStore,
    SnsStore,
    TagsStore,
    PermissionsStore,
    LayersStore,
    LogGroupsStore,
    FunctionLogsStore,
    Protocol,
):
    """Everything one process needs from its backend."""

    def close(self) -> None: ...
