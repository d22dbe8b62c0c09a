"""Warm pool of execution environments.

Callers already hold a concurrency slot, so the pool never limits: it reuses an idle warm environment of
the same (function, version, revision) or starts a new one, as AWS does for concurrent requests.
Callers that may queue (the async dispatcher: `prefer_warm=True`) first wait for a busy environment to come
free when that is likely quicker than a cold start: a burst of short events then reuses a few warm
environments instead of starting a process per event (which only adds CPU contention), while slow
functions still scale out at once. A new revision retires the old one's idle environments. One task watches the memory of busy environments (polling /proc across the process
boundary, about every MEMORY_POLL_S) and lingers briefly so back-to-back invokes do not restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from lambdalite.aio import wait_event
from lambdalite.model.function_log import LogSink
from lambdalite.model.run import InvokeRequest, InvokeResult, RunSpec, Status
from lambdalite.runtime.environment import Environment, EnvironmentLost, force_kill_all
from lambdalite.runtime.logs import LogBook
from lambdalite.settings import Settings

log = logging.getLogger(__name__)

MEMORY_POLL_S = 0.05
MONITOR_LINGER_S = 2.0
# Expected cold start before one has been measured, and the bounds of the wait for a warm environment.
DEFAULT_INIT_S = 0.25
MIN_WAIT_S = 0.05
MAX_WAIT_S = 2.0
# Environments a function gets at once, before queue-fed callers start waiting for warm ones.
PARALLEL_ENVIRONMENTS = max(2, os.cpu_count() or 2)

PoolKey = tuple[str, str, str]


class EnvironmentPool:
    """Runs one invocation at a time per environment; reuses warm ones; stops idle ones."""

    def __init__(self, settings: Settings, logs: LogSink):
        """`logs`: where environments' log text goes (the store)."""
        self.settings = settings
        self.logbook = LogBook(logs)
        self._idle: dict[PoolKey, list[Environment]] = {}
        self._all: set[Environment] = set()
        self._busy: set[Environment] = set()
        self._revisions: dict[tuple[str, str], str] = {}
        self._monitor: asyncio.Task[None] | None = None
        self._closed = False
        self._all_gone = asyncio.Event()
        self._live: dict[PoolKey, int] = {}  # environments per key, busy or idle
        self._waiters: dict[PoolKey, list[asyncio.Future[Environment]]] = {}
        self._init_s: dict[PoolKey, float] = {}  # moving average of measured cold starts
        self._run_s: dict[PoolKey, float] = {}  # moving average of invocation durations
        self._starting: dict[PoolKey, int] = {}  # environments in their first invocation (cold)
        self._recycling = bool(settings.env_max_invocations or settings.env_recycle_rss_percent)

    async def invoke(self, spec: RunSpec, request: InvokeRequest, *, prefer_warm: bool = False) -> InvokeResult:
        if self._closed:
            return InvokeResult(Status.SYSTEM_ERROR, b'{"errorType":"Runtime.Unavailable",'
                                b'"errorMessage":"lambdalite is shutting down"}', "Runtime.Unavailable")
        self._note_revision(spec)
        env = self._take_idle(spec.pool_key)
        if env is None and prefer_warm:
            env = await self._wait_for_warm(spec.pool_key)
        key = spec.pool_key
        for _attempt in range(2):
            cold = env is None
            if env is None:
                env = Environment(spec, self.settings, self.logbook, self._gone)
                self._all.add(env)
                self._live[key] = self._live.get(key, 0) + 1
                self._starting[key] = self._starting.get(key, 0) + 1
            self._busy.add(env)
            self._ensure_monitor()
            try:
                result = await env.invoke(request)
            except EnvironmentLost:
                self._busy.discard(env)
                env = None  # died while idle, before the event reached it: once more on a fresh one
                continue
            except BaseException:
                self._busy.discard(env)
                raise
            finally:
                if cold:
                    self._starting[key] -= 1
            self._busy.discard(env)
            self._note_duration(spec.pool_key, result.duration_ms / 1000)
            self._release(env)
            return result
        return InvokeResult(Status.SYSTEM_ERROR, b'{"errorType":"Runtime.Unavailable",'
                            b'"errorMessage":"The execution environment was lost"}', "Runtime.Unavailable")

    def _take_idle(self, key: PoolKey) -> Environment | None:
        stack = self._idle.get(key)
        while stack:
            env = stack.pop()  # most recently used: warmest caches
            if env.reusable:
                return env
        return None

    def _note_duration(self, key: PoolKey, duration_s: float) -> None:
        previous_s = self._run_s.get(key, duration_s)
        self._run_s[key] = 0.7 * previous_s + 0.3 * duration_s

    async def _wait_for_warm(self, key: PoolKey) -> Environment | None:
        """All of this key's environments are busy: wait for one to come free when that is likely to be
        quicker than a cold start (None: start a new one)."""
        if self._live.get(key, 0) < PARALLEL_ENVIRONMENTS:
            return None  # a few run side by side: while one computes, the server feeds another
        init_s = self._init_s.get(key, DEFAULT_INIT_S)
        if self._run_s.get(key, 0.0) > init_s:
            return None  # a slow function: a new environment is ready before a busy one is free
        # One cold start at a time: while one is under way, another would only share its CPU.
        starting = self._starting.get(key, 0) > 0
        wait_s = MAX_WAIT_S if starting else min(MAX_WAIT_S, max(MIN_WAIT_S, 2 * init_s))
        future: asyncio.Future[Environment] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(key, [])
        waiters.append(future)
        try:
            async with asyncio.timeout(wait_s):
                return await future
        except TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()  # handed over just as the wait ended
            return None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(future.result())  # handed over to a caller that went away: pass it on
            raise
        finally:
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(key, None)

    def _release(self, env: Environment) -> None:
        spec = env.spec
        current = self._revisions.get((spec.function_name, spec.version))
        if self._closed or not env.reusable or current != spec.revision_id:
            env.stop(None)
            return
        if self._recycling and self._worn_out(env):
            env.stop(None)  # the next caller starts a fresh one
            return
        init_ms = env.cold_init_ms
        if init_ms is not None:
            previous_s = self._init_s.get(spec.pool_key, init_ms / 1000)
            self._init_s[spec.pool_key] = 0.7 * previous_s + 0.3 * init_ms / 1000
        for waiter in self._waiters.get(spec.pool_key, []):
            if not waiter.done():
                waiter.set_result(env)  # straight to a waiting caller: it stays warm and busy
                return
        self._idle.setdefault(spec.pool_key, []).append(env)

    def _worn_out(self, env: Environment) -> bool:
        """Whether a warm environment is due for recycling (settings env_max_invocations and
        env_recycle_rss_percent): a safety net against functions, or runtimes, that leak."""
        max_invocations = self.settings.env_max_invocations
        if max_invocations and env.invocations >= max_invocations:
            log.info("recycling an environment of %s after %d invocations", env.spec.function_name,
                     env.invocations)
            return True
        percent = self.settings.env_recycle_rss_percent
        if percent and env.process is not None:
            rss_kb = env.process.rss_kb()
            if rss_kb > env.spec.memory_mb * 1024 * percent / 100:
                log.info("recycling an environment of %s: RSS %d MB is past %g%% of MemorySize %d MB",
                         env.spec.function_name, rss_kb // 1024, percent, env.spec.memory_mb)
                return True
        return False

    def _note_revision(self, spec: RunSpec) -> None:
        key = (spec.function_name, spec.version)
        previous = self._revisions.get(key)
        if previous == spec.revision_id:
            return
        self._revisions[key] = spec.revision_id
        if previous is not None:
            for env in self._idle.pop((spec.function_name, spec.version, previous), []):
                env.stop("revision replaced")

    def _gone(self, env: Environment) -> None:
        if env in self._all:
            key = env.spec.pool_key
            self._live[key] = self._live.get(key, 1) - 1
            if self._live[key] <= 0:
                self._live.pop(key, None)
        self._all.discard(env)
        if self._closed and not self._all:
            self._all_gone.set()
        self._busy.discard(env)
        stack = self._idle.get(env.spec.pool_key)
        if stack and env in stack:
            stack.remove(env)

    # ---- memory watch -----------------------------------------------------------------------------
    def _ensure_monitor(self) -> None:
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._watch_memory(), name="env-memory")

    async def _watch_memory(self) -> None:
        idle_since_s: float | None = None
        while not self._closed:
            await asyncio.sleep(MEMORY_POLL_S)
            if not self._busy:
                now_s = time.monotonic()
                idle_since_s = idle_since_s or now_s
                if now_s - idle_since_s > MONITOR_LINGER_S:
                    return
                continue
            idle_since_s = None
            for env in list(self._busy):
                env.check_memory()

    # ---- lifecycle --------------------------------------------------------------------------------
    async def reap_idle(self) -> None:
        """Stop environments idle longer than settings.idle_env_timeout_s (called periodically)."""
        cutoff_s = time.monotonic() - self.settings.idle_env_timeout_s
        for key, stack in list(self._idle.items()):
            keep = [env for env in stack if env.reusable and env.last_used_s >= cutoff_s]
            for env in stack:
                if env not in keep:
                    env.stop("idle")
            if keep:
                self._idle[key] = keep
            else:
                self._idle.pop(key, None)
        self.logbook.flush()

    async def retire(self, function_name: str) -> None:
        """Stop a function's idle environments now (e.g. after DeleteFunction); busy ones stop when done."""
        for key in [k for k in self._idle if k[0] == function_name]:
            for env in self._idle.pop(key):
                env.stop("function retired")
        for version_key in [k for k in self._revisions if k[0] == function_name]:
            self._revisions[version_key] = "\0retired"  # busy environments are not returned to the pool

    async def close(self) -> None:
        """Stop every environment."""
        self._closed = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
        environments = list(self._all)
        for env in environments:
            env.stop("shutdown")
        force_kill_all(environments)
        # Let exit notifications arrive so in-flight callers get their answer and fds are closed.
        if self._all:
            await wait_event(self._all_gone, 2.0)
        self._idle.clear()
        await self.logbook.close()

    def stats(self) -> dict[str, int]:
        """Counts for diagnostics and tests."""
        return {"environments": len(self._all), "busy": len(self._busy),
                "idle": sum(len(s) for s in self._idle.values())}

    def pids(self) -> list[int]:
        return [env.process.pid for env in self._all if env.process is not None]
