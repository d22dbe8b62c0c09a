"""Assembles one lambdalite process: store, environments, dispatcher and/or HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Callable

from lambdalite import credentials, metrics
from lambdalite.clock import now_ms
from lambdalite.console.app import Console
from lambdalite.console.stats import functions as functions_stats
from lambdalite.destinations import sns_signing
from lambdalite.destinations.delivery import DestinationJobs
from lambdalite.destinations.rule_targets import RuleTargetJobs
from lambdalite.destinations.s3_notify import S3NotificationJobs
from lambdalite.destinations.sns_delivery import SnsDeliveryJobs
from lambdalite.disk import FreeSpace
from lambdalite.node import Node
from lambdalite.runtime import sandbox
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.services.app import App, Extra
from lambdalite.services.auth import Authenticator
from lambdalite.services.disk_floor import DiskFloor
from lambdalite.services.events import EventsService
from lambdalite.services.http import AwsError, Request, Response
from lambdalite.services.httpserver import HttpLimits, HttpServer
from lambdalite.services.lambda_api import LambdaService
from lambdalite.services.logs import LogsService
from lambdalite.services.logs import enforce_retention as enforce_log_retention
from lambdalite.services.ports import ServicePorts
from lambdalite.services.s3 import S3Service
from lambdalite.services.sns import SnsService
from lambdalite.services.sqs import SqsService
from lambdalite.services.sqs.move_tasks import MoveTaskRunner
from lambdalite.settings import Settings
from lambdalite.store import open_store
from lambdalite.store.errors import StoreUnavailable
from lambdalite.worker.dispatcher import Dispatcher
from lambdalite.worker.esm import MappingPollers
from lambdalite.worker.jobs import JobLoop
from lambdalite.worker.schedules import SchedulePoller

log = logging.getLogger("lambdalite")

HEALTH_PATH = "/_lambdalite/health"
SHUTDOWN_GRACE_S = 10.0
LOG_EXPIRY_PERIOD_S = 60.0  # readers hide expired log text at once; deleting it can wait
_BIND_ERRORS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def build_node(settings: Settings) -> Node:
    store = open_store(settings)
    pool = EnvironmentPool(settings, store)
    node = Node(settings=settings, store=store, pool=pool, endpoint=f"http://{settings.host}:{settings.port}")
    node.ports = ServicePorts(node)
    return node


def build_app(node: Node, *, api: bool = True) -> App:
    """The API (services + /metrics + health), or for a `worker` only /metrics and health (api=False)."""

    space = FreeSpace(node.settings.data_dir, node.settings.min_free_disk_mb)

    async def extra(request: Request) -> Response | None:
        if request.method == "GET" and request.path == "/metrics":
            await _refresh_gauges(node)
            body, content_type = metrics.exposition()
            return Response(200, body, [], content_type)
        if request.path == HEALTH_PATH:
            role = ("api+dispatch" if node.settings.dispatch else "api") if node.settings.serve_api else "dispatch"
            if space.low():  # 503: a balancer sends new work elsewhere; this node still drains its backlog
                return Response(503, b'{"status":"disk_low","role":"%s","detail":"%s"}'
                                % (role.encode(), space.describe().encode()), [])
            return Response(200, b'{"status":"ok","role":"%s"}' % role.encode(), [])
        return None

    if not api:
        return App({"lambda": _NoApi()}, node.settings.default_region, extra=[extra])
    sns = SnsService(node)
    services = {s.name: s for s in (LambdaService(node), SqsService(node), EventsService(node), S3Service(node), sns,
                                    LogsService(node))}
    extras: list[Extra] = [extra, sns.public_links]
    if node.settings.console:
        extras.append(Console(node).handle)
    return App(services, node.settings.default_region, extra=extras, auth=Authenticator.from_settings(node.settings),
               functions_data_plane_only=node.settings.function_api != "all", admit=DiskFloor(space).refuse)


async def _refresh_gauges(node: Node) -> None:
    """The per-function queue gauges, read from the store at scrape time (a failure keeps the last values)."""
    try:
        await functions_stats(node)
    except Exception:
        log.warning("could not refresh the queue gauges", exc_info=True)


class _NoApi:
    """A worker's metrics port answers nothing but /metrics and health."""

    name = "lambda"

    async def handle(self, request: Request) -> Response:
        raise AwsError(404, "UnknownOperationException", "This is a lambdalite worker: only /metrics is served here.")

    def error_response(self, error: AwsError, request_id: str) -> Response:
        body = b'{"Type":"User","Message":"%s"}' % error.message.encode()
        return Response(error.status, body, [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)])


async def _maintenance(node: Node) -> None:
    """Keep this process's concurrency slots alive, stop idle environments, prune old outcomes and logs,
    free deleted S3 bodies."""
    period_s = max(0.1, node.settings.lease_s / 3)  # slots expire after lease_s unless renewed
    next_expiry_s = 0.0
    while True:
        await asyncio.sleep(period_s)
        try:
            await node.store.renew_slots()
            await node.pool.reap_idle()
            cutoff_ms = now_ms() - int(node.settings.outcome_retention_s * 1000)
            await node.store.prune_outcomes(cutoff_ms)
            await node.store.prune_history(cutoff_ms)
            await node.store.s3_prune_bodies(now_ms())
            if time.monotonic() >= next_expiry_s:  # CloudWatch Logs retention: old text goes
                next_expiry_s = time.monotonic() + LOG_EXPIRY_PERIOD_S
                await enforce_log_retention(node)
        except Exception:
            log.exception("maintenance failed")


async def _attach_store(node: Node) -> None:
    """Connect the store before anything runs (StoreUnavailable: `serve` says so in one line) and take
    what every node must share from it."""
    await node.store.attach(node.wakeups)
    secret = await node.store.shared_secret(credentials.SECRET_FILE, os.urandom(32))
    if secret is not None:
        credentials.use_secret(node.settings.data_dir, secret)
    await sns_signing.share(node)


async def run(settings: Settings) -> None:
    node = build_node(settings)
    try:
        await _attach_store(node)
    except BaseException:
        node.store.close()
        raise
    tasks = [asyncio.create_task(_maintenance(node), name="maintenance")]
    if settings.dispatch:
        tasks.append(asyncio.create_task(Dispatcher(node).run(), name="dispatcher"))
        jobs = JobLoop(node, [DestinationJobs(node), RuleTargetJobs(node), S3NotificationJobs(node),
                              SnsDeliveryJobs(node)])
        tasks.append(asyncio.create_task(jobs.run(), name="jobs"))
        tasks.append(asyncio.create_task(MappingPollers(node).run(), name="event-source-mappings"))
        tasks.append(asyncio.create_task(SchedulePoller(node).run(), name="schedules"))
        tasks.append(asyncio.create_task(MoveTaskRunner(node).run(), name="sqs-move-tasks"))
    http: HttpServer | None = None
    try:
        if settings.serve_api:
            http = HttpServer(build_app(node), HttpLimits.from_settings(settings), _function_peer(settings))
            await _listen(http, settings.host, settings.port)
        elif settings.metrics_port:
            http = HttpServer(build_app(node, api=False), HttpLimits.from_settings(settings))
            await _listen(http, settings.host, settings.metrics_port)
        _say(_started_line(settings))
        await _until_signalled()
    finally:
        if http is not None:
            await http.stop()
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
        for task in stuck:  # events still held are leased: they run again elsewhere, nothing is lost
            log.warning("stopping without waiting for %s", task.get_name())
        await node.pool.close()
        node.store.close()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _function_peer(settings: Settings) -> Callable[[tuple[str, int], tuple[str, int]], bool] | None:
    """How the API tells a function's connection (environments run as their own uids), when they do."""
    support = sandbox.active(settings.sandbox)
    return sandbox.environment_peer if support is not None and support.setpriv is not None else None


def _started_line(settings: Settings) -> str:
    """What `serve` / `worker` say once ready, whatever the log level: where to point clients, where data is."""
    data = f"data folder {settings.data_dir.resolve()}"
    if settings.store:
        data = f"store {_without_password(settings.store)}, code cache {settings.code_dir.resolve()}"
    if settings.serve_api:
        role = "API and dispatcher" if settings.dispatch else "API only (run `lambdalite worker`s to dispatch)"
        return f"lambdalite: listening on http://{settings.host}:{settings.port} ({role}); {data}"
    metrics_at = f"; metrics on http://{settings.host}:{settings.metrics_port}/metrics" if settings.metrics_port else ""
    return f"lambdalite worker: dispatching from {data}{metrics_at}"


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials_part, at, host = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}{sep}{credentials_part.split(':', 1)[0]}@{host}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class CannotListen(Exception):
    """The API (or metrics) port could not be bound: said in one line by `serve`, not as a traceback."""


async def _listen(http: HttpServer, host: str, port: int) -> None:
    try:
        await http.start(host, port)
    except OSError as err:
        if err.errno not in _BIND_ERRORS:
            raise
        raise CannotListen(f"cannot listen on {host}:{port}: {os.strerror(err.errno)}") from None


def _raise_open_file_limit() -> None:
    """Every connection and environment holds descriptors: take the hard limit the host allows (a soft
    limit of 1,024 is below the default connection limit), instead of failing requests with EMFILE."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))


def serve(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _raise_open_file_limit()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.Runner()
    try:
        with runner:
            runner.run(run(settings))
    except CannotListen as err:
        _say(f"lambdalite: {err}")
        raise SystemExit(1) from None
    except StoreUnavailable as err:
        _say(f"lambdalite: cannot reach the store {_without_password(settings.store)}: {err.detail}")
        raise SystemExit(1) from None
