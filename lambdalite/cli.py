"""`lambdalite serve | worker | logs | queue`: flags override environment variables (settings.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lambdalite import settings as settings_mod


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data folder (env LAMBDALITE_DATA_DIR, default ./.lambdalite)")
    parser.add_argument("--store", help="postgresql://USER:PASS@HOST:PORT/DB to share one PostgreSQL database "
                        "between nodes (default: SQLite in the data folder); a password here is visible in the "
                        "process list: prefer env LAMBDALITE_STORE, PGPASSWORD or ~/.pgpass")


def _node_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retry-base-delay", type=float, dest="retry_base_delay_s",
                        help="seconds; function-error retries wait 1x and 2x this (env LAMBDA_RETRY_BASE_DELAY)")
    parser.add_argument("--account-concurrency", type=int, help="account-wide concurrency limit")
    parser.add_argument("--idle-env-timeout", type=float, dest="idle_env_timeout_s",
                        help="seconds before an idle environment is stopped")
    parser.add_argument("--python-runtime-client", choices=["builtin", "awslambdaric"],
                        help="runtime client for python runtimes")
    parser.add_argument("--lease-seconds", type=float, dest="lease_s", help="event lease length")
    parser.add_argument("--log-level", help="debug, info, warning, error")
    parser.add_argument("--sandbox", choices=["require", "auto", "off"],
                        help="run functions in a bubblewrap sandbox (env LAMBDALITE_SANDBOX, default auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdalite", description="A self-hosted AWS Lambda")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (and, unless --no-dispatch, the dispatcher)")
    serve.add_argument("--host", help="bind address (env LAMBDALITE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env LAMBDALITE_PORT, default 4566)")
    serve.add_argument("--no-dispatch", action="store_true", help="serve the API only; run workers separately")
    serve.add_argument("--no-console", action="store_true", help="do not serve the web console at /console")
    serve.add_argument("--credentials-file", help="file of 'ACCESS_KEY_ID SECRET [ACCOUNT_ID]' lines; turns SigV4 "
                       "checking on (env LAMBDALITE_CREDENTIALS_FILE; or LAMBDALITE_CREDENTIALS=AKID:SECRET,...)")
    serve.add_argument("--credentials", help="AKID:SECRET[:ACCOUNT],... (visible to other local users in the "
                       "process list: prefer env LAMBDALITE_CREDENTIALS or --credentials-file)")
    serve.add_argument("--insecure", action="store_true", default=None,
                       help="allow a non-loopback --host without credentials (env LAMBDALITE_INSECURE)")
    _common(serve)
    _node_flags(serve)

    worker = sub.add_parser("worker", help="run a dispatcher only, against the same data folder")
    worker.add_argument("--metrics-port", type=int, help="serve /metrics on this port (env LAMBDALITE_METRICS_PORT)")
    worker.add_argument("--host", help="bind address of the metrics port (default 127.0.0.1)")
    _common(worker)
    _node_flags(worker)

    logs = sub.add_parser("logs", help="print a function's logs")
    logs.add_argument("function")
    logs.add_argument("--follow", "-f", action="store_true")
    _common(logs)

    queue = sub.add_parser("queue", help="show each function's async queue")
    _common(queue)
    _history_commands(sub)
    return parser


def _history_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = sub.add_parser("events", help="browse the event history: events [FUNCTION] | events show REQUEST_ID")
    events.add_argument("target", nargs="*", metavar="FUNCTION | show REQUEST_ID")
    events.add_argument("--status", choices=["queued", "delayed", "running", "succeeded", "failed"])
    events.add_argument("--since", help="15m, 2h, 1d ago, epoch ms or an ISO time")
    events.add_argument("--until", help="as --since")
    events.add_argument("--request-id", help="only this event")
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--json", action="store_true", dest="as_json")
    _common(events)
    redrive = sub.add_parser("redrive", help="run failed events again (one, a function's, or an SQS DLQ's)")
    redrive.add_argument("request_id", nargs="?", metavar="REQUEST_ID")
    redrive.add_argument("--function", help="its failed events (with --since/--until), or the target of --dlq")
    redrive.add_argument("--dlq", help="an SQS queue (name or ARN) of failed events to move back into --function")
    redrive.add_argument("--since", help="15m, 2h, 1d ago, epoch ms or an ISO time")
    redrive.add_argument("--until", help="as --since")
    redrive.add_argument("--json", action="store_true", dest="as_json")
    _common(redrive)


_NOT_SETTINGS = frozenset({"command", "no_dispatch", "function", "follow", "target", "status", "since", "until",
                           "request_id", "limit", "as_json", "dlq", "no_console"})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    settings = settings_mod.from_env().with_overrides(**overrides)
    if args.command in ("serve", "worker"):
        from lambdalite.runtime.sandbox import check_mode

        warning = check_mode(settings.sandbox)  # SystemExit when `require` cannot be met
        if warning:
            print(f"lambdalite: WARNING: {warning}", file=sys.stderr, flush=True)
    if args.command == "serve":
        from lambdalite.credentials import startup_problem
        from lambdalite.server import serve

        problem = startup_problem(settings)
        if problem is not None:
            print(f"lambdalite: {problem}", file=sys.stderr)
            return 2

        serve(settings.with_overrides(dispatch=False if args.no_dispatch else None,
                                      console=False if args.no_console else None))
    elif args.command == "worker":
        from lambdalite.server import serve

        serve(settings.with_overrides(serve_api=False, dispatch=True))
    elif args.command == "logs":
        from lambdalite.console.commands import print_logs
        from lambdalite.store.errors import StoreUnavailable

        try:
            return print_logs(settings, args.function, follow=args.follow)
        except StoreUnavailable as err:
            print(f"lambdalite: cannot reach the store: {err.detail}", file=sys.stderr)
            return 1
    elif args.command == "queue":
        from lambdalite.store.errors import StoreUnavailable
        from lambdalite.worker.report import print_queue

        try:
            return print_queue(settings)
        except StoreUnavailable as err:
            print(f"lambdalite: cannot reach the store: {err.detail}", file=sys.stderr)
            return 1
    elif args.command in ("events", "redrive"):
        from lambdalite.store.errors import StoreUnavailable

        try:
            return _history(settings, args)
        except StoreUnavailable as err:
            print(f"lambdalite: cannot reach the store: {err.detail}", file=sys.stderr)
            return 1
    return 0


def _history(settings: settings_mod.Settings, args: argparse.Namespace) -> int:
    from lambdalite.console import commands

    if args.command == "redrive":
        return commands.run_redrive(settings, args.request_id, args.function, args.dlq, args.since, args.until,
                                    args.as_json)
    target = list(args.target)
    if target[:1] == ["show"]:
        if len(target) != 2:
            print("lambdalite: events show REQUEST_ID", file=sys.stderr)
            return 2
        return commands.print_event(settings, target[1], args.as_json)
    if len(target) > 1:
        print("lambdalite: events [FUNCTION] takes one function", file=sys.stderr)
        return 2
    return commands.print_events(settings, target[0] if target else None, args.status, args.since, args.until,
                                 args.request_id, args.limit, args.as_json)


if __name__ == "__main__":
    sys.exit(main())
