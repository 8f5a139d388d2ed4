#!/bin/sh
# bench/pg_plans.sh - the queries of docs/plugins/postgres.md and their
# plans on a log of a few million checks: starts a private PostgreSQL on
# a free port, lets the postgres output make its schema (a short run of
# bench/output_postgres), fills integration_health_log with generated
# checks (generate_series: INTEGRATIONS integrations, one check each every
# STEP seconds over DAYS days up to now, 2% failing), one day partition
# each as the output makes them, ANALYZE, then prints EXPLAIN (ANALYZE,
# BUFFERS) of each query. Never pass/fail; re-run it after a schema change
# and paste what it prints into the doc.
#
#   bench/pg_plans.sh [BUILD_DIR]     (default: build-rel)
#
# Environment: INTEGRATIONS (100), STEP (90), DAYS (32): 3,072,000 rows.
# Needs: postgresql-15, python3.
set -eu

BUILD=${1:-build-rel}
INTEGRATIONS=${INTEGRATIONS:-100}
STEP=${STEP:-90}
DAYS=${DAYS:-32}
. "$(dirname "$0")/pg_server.sh"

pg_dir outpost-pg-plans
cleanup() {
    pg_stop
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

pg_start
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U postgres -d postgres "$@"; }

# The output's own schema (migrations, partitions, indexes, views).
"$BUILD/bench/output_postgres" "$BUILD/plugins" "$url" 1000 10 >/dev/null 2>&1
psql_ -c "TRUNCATE integration_health_log, integration_health, integration_alerts"

echo "-- PostgreSQL: $(psql_ -A -t -c 'SHOW server_version')"
echo "-- $INTEGRATIONS integrations, a check each every $STEP s over $DAYS days"
t0=$(date +%s)
psql_ <<SQL
-- The day partitions the output would have made for those days.
DO \$\$
DECLARE d date;
BEGIN
  FOR d IN SELECT generate_series((now() AT TIME ZONE 'UTC')::date - $DAYS,
                                  (now() AT TIME ZONE 'UTC')::date, '1 day')
  LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS integration_health_log_%s '
                   'PARTITION OF integration_health_log FOR VALUES FROM '
                   '(%L) TO (%L)', to_char(d, 'YYYYMMDD'),
                   d::text || ' 00:00+00', (d + 1)::text || ' 00:00+00');
  END LOOP;
END \$\$;
-- Checks as the http input and the health filter make them.
INSERT INTO integration_health_log (ts, integration, name, category,
  provider, status, success, status_code, response_ms, dns_ms, connect_ms,
  health_score, error, tags)
SELECT t, 'int-' || i, 'http', 'payments', 'provider-' || (i % 7),
  CASE WHEN f THEN 'down' ELSE 'healthy' END, NOT f,
  CASE WHEN f THEN 503 ELSE 200 END, 40 + (k % 300), 1.25, 2.5,
  CASE WHEN f THEN 0.4 ELSE 0.98 END,
  CASE WHEN f THEN 'status: got 503, expected 2xx' END,
  jsonb_build_object('integration', 'int-' || i, 'category', 'payments')
FROM generate_series(now() - interval '$DAYS days', now(),
                     interval '$STEP seconds') WITH ORDINALITY AS s(t, k),
     generate_series(0, $INTEGRATIONS - 1) AS i,
     LATERAL (SELECT (k * 31 + i * 17) % 50 = 0 AS f) AS x;
-- Alerts: a few hundred, most resolved.
INSERT INTO integration_alerts (dedup_key, integration, severity, status,
  occurrences, first_seen, last_seen, resolved_at, channels)
SELECT 'int-' || (n % $INTEGRATIONS) || ':down', 'int-' || (n % $INTEGRATIONS),
  'error', CASE WHEN n % 20 = 0 THEN 'active' ELSE 'resolved' END, 3,
  now() - n * interval '1 hour', now() - n * interval '1 hour'
    + interval '10 minutes',
  CASE WHEN n % 20 <> 0 THEN now() - n * interval '1 hour'
    + interval '15 minutes' END, '{slack}'
FROM generate_series(1, 700) AS n;
VACUUM ANALYZE;
SQL
echo "-- $(psql_ -A -t -c 'SELECT count(*) FROM integration_health_log') rows in integration_health_log," \
     "$(psql_ -A -t -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'integration_health_log'::regclass") partitions," \
     "$(psql_ -A -t -c "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'integration_health_log'::regclass")," \
     "made in $(( $(date +%s) - t0 )) s"

explain() {
    echo
    echo "$1"
    psql_ -A -t -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $1"
}

explain "SELECT * FROM integration_success_rate_24h ORDER BY integration;"
explain "SELECT * FROM integration_success_rate_24h WHERE integration = 'int-7';"
explain "SELECT * FROM integration_uptime_30d WHERE integration = 'int-7';"
explain "SELECT * FROM integration_uptime_30d ORDER BY uptime_pct;"
explain "SELECT * FROM integration_sla_monthly WHERE integration = 'int-7' AND month = date_trunc('month', now(), 'UTC');"
explain "SELECT * FROM integration_sla_for_month(now()) WHERE integration = 'int-7';"
explain "SELECT * FROM integration_sla_for_month(now()) ORDER BY availability_pct;"
explain "SELECT ts, status, response_ms, error FROM integration_health_log WHERE integration = 'int-7' ORDER BY ts DESC LIMIT 100;"
explain "SELECT ts, integration, status_code, error FROM integration_health_log WHERE ts >= now() - interval '1 hour' AND success IS NOT TRUE ORDER BY ts DESC;"
explain "SELECT integration, severity, occurrences, first_seen FROM integration_alerts WHERE status <> 'resolved' ORDER BY first_seen DESC;"
explain "SELECT * FROM integration_alerts WHERE integration = 'int-7' ORDER BY first_seen DESC LIMIT 20;"
