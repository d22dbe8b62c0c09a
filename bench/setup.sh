#!/usr/bin/env bash
# Everything `make bench` needs on a fresh Debian machine: the project's set-up (venv), redis-server,
# the bench extras (Celery, Dramatiq, boto3, py-spy) and wrk (the accept-rate load generator; without it
# the harness falls back to bench/loadgen.py). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup

sudo_cmd=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
if ! command -v redis-server >/dev/null 2>&1; then  # the peers' broker (private servers, see bench/redis_server.py)
  echo "bench: installing redis-server" >&2
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk" >&2
  ($sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null) \
    || echo "bench: wrk not installed; accept rate will use bench/loadgen.py" >&2
fi

stamp=.venv/.lambdalite-bench-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q -e '.[bench]'
  touch "$stamp"
fi
