#!/usr/bin/env bash
# Redis for the key-value-redis tests and benchmarks: the Debian package `redis-server`
# (redis-server and redis-cli on PATH). key-value-test-support starts its own servers on
# free loopback ports (a single node, and a small cluster), so the system service the
# package ships must not run: it would hold port 6379 and a database nobody asked for.
# Idempotent.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    # Keep the package from starting its service while it installs, unless the machine
    # already has a policy (Docker images ship one that refuses every start).
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    trap 'if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
    # Refresh the package lists only when they do not know the package yet.
    if ! apt-cache show redis-server >/dev/null 2>&1; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi

# Whatever installed it, the system service stays off.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/redis-server ]; then
    /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
fi

echo "$(redis-server --version | cut -d' ' -f1-3) ready ($(command -v redis-server))"
