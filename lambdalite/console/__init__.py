"""The operator console: event history pages, live charts, redrive, SQS queues (served by `serve` at /console),
and the `events` / `redrive` commands. Above the services, below server.py and cli.py."""
