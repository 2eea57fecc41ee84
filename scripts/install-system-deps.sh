#!/usr/bin/env bash
# Installs every Debian package the tests and the demo use -- the one list, kept here.
# Idempotent and quick when everything is present. Never starts or stops system services: while it
# installs, a temporary policy-rc.d (unless one exists) tells maintainer scripts not to start daemons.
set -euo pipefail

PACKAGES=(
  mosquitto   # MQTT broker: tests start private instances on free ports
  nats-server # cloud side message bus (JetStream)
  socat       # virtual serial ports (pty pairs) for the edge agent tests
  sqlite3     # inspecting the edge buffer
  openssl     # test certificates for TLS
  chromium    # dashboard tests
  gpiod       # libgpiod tools (gpioget, gpiomon): the GPIO source driver and its tests
  postgresql  # the PostgreSQL aggregate store's tests and the aggregation benchmark's reference (a running server is expected, see README)
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: needs a Debian/Ubuntu system with dpkg and apt-get; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ $status != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-system-deps: all packages already installed: ${PACKAGES[*]}"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-system-deps: must run as root (or with sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
run_as_root() { ${as_root[@]+"${as_root[@]}"} "$@"; }

policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  # Exit code 101 = "action forbidden": postinst scripts leave services alone.
  run_as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  trap 'run_as_root rm -f "$policy"' EXIT
fi

echo "install-system-deps: installing ${missing[*]}"
run_as_root apt-get update
run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
