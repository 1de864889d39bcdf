#!/usr/bin/env bash
# Debian's redis-server, the Celery broker of the distributed test (make test-distributed).
# Idempotent: returns at once when redis-server is already on the PATH.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_redis: no apt-get here; install redis-server (Redis 6 or newer) yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The package may start a system-wide server on 6379; the test runs its own on another port.
command -v redis-server
