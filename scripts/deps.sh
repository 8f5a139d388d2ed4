#!/usr/bin/env bash
# Installs, with apt-get, whatever of outpost's build and test dependencies
# this Debian 12 machine lacks. Safe to run again: it installs nothing when
# everything is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libltdl-dev libcurl4-openssl-dev libssl-dev libconfuse-dev libjansson-dev
  libmicrohttpd-dev libpq-dev libhiredis-dev librdkafka-dev libcmocka-dev
  python3 postgresql redis-server kcat python3-aiosmtpd python3-redis curl openssl
  nghttp2-server libpcre2-dev
  # e2e.test_metrics (promtool, a real Prometheus); bench/api (wrk)
  prometheus wrk
  # e2e.test_dashboard: the page in a real headless browser
  chromium python3-websocket
  # tests/packages (packages.deb): build, check, install and run the .debs
  dpkg-dev debhelper fakeroot lintian adduser systemd man-db
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi
# No daemon should start on install: the tests start their own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
echo "deps: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
