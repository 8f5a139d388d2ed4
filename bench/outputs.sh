#!/bin/sh
# bench/outputs.sh - the three store outputs into their real servers, each
# beside collectd 5.12's writer for the same backend: runs
# bench/output_postgres.sh, bench/output_kafka.sh and bench/output_redis.sh
# one after the other (never together: they would share the two cores)
# and prints their tables. Never pass/fail.
#
#   bench/outputs.sh [BUILD_DIR]     (default: build-rel; build it with
#                                     cmake -DCMAKE_BUILD_TYPE=Release)
#
# Each script's own environment variables (RECORDS, N, COLLECTD_SECONDS...)
# pass through; see their headers.
set -eu
BUILD=${1:-build-rel}
here=$(dirname "$0")
for out in postgres kafka redis; do
  echo "== $out"
  sh "$here/output_$out.sh" "$BUILD"
  echo
done
