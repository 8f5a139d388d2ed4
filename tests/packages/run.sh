#!/usr/bin/env bash
# The Debian packages, end to end, on this machine (ctest: packages.deb):
#
#   tests/packages/run.sh BUILD_DIR
#
#  1. build the .debs from this tree (packaging/build-debs.sh: a Release build, out of
#     the tree, in BUILD_DIR/packages) and check them with lintian;
#  2. make "the previous release" from them: the same packages repacked
#     with a lower version (0.1.0~prev) and a conffile the package changed
#     since (outpost.conf gains a line). That is what an upgrade has to get
#     right: the maintainer scripts run with the old version, dpkg meets a
#     conffile both the operator and the package changed, the state
#     stays. A second full build with another changelog would prove no
#     more and cost another build;
#  3. install the previous release with apt-get, edit the conffile as an
#     operator would, add a drop-in that checks tests/fakeapi, run the
#     daemon as the unit does and let it record checks and keep state;
#  4. upgrade to the new packages: the edit, the state and the user stay;
#  5. `outpostd -t` on the installed config; the installed unit passes
#     `systemd-analyze verify` and scores under 2.0 with
#     `systemd-analyze security --offline=yes`;
#  6. start the installed daemon the way outpost.service does (its
#     ExecStartPre and ExecStart lines, as the outpost user, with no new
#     privileges and no capabilities, its EnvironmentFile read) for a few
#     seconds against tests/fakeapi, and see a check recorded, a reload
#     survived, and Slack (fakeapi's) get a test notification and the
#     alert when the integration goes down;
#  7. build the example plugins shipped in outpost-dev against the
#     installed SDK (pkg-config outpost-plugin, the installed headers
#     only), install them into the plugin folder and run them in the
#     daemon; then `make uninstall`;
#  8. purge: nothing of the packages is left, only the files the
#     operator added under /etc/outpost.
#
# It needs root (it installs packages; ctest skips it otherwise, exit 77)
# and leaves the build tree's binaries, which the other tests use, alone:
# only /usr, /etc/outpost, /etc/default/outpost, /var/lib/outpost and
# /var/log/outpost are touched, and everything is purged on the way out,
# on failure too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
work=$build/packages
fakeapi=$build/fakeapi
PACKAGES=(outpost outpost-dev outpost-postgres outpost-kafka outpost-redis
          outpost-databases)
MARK=/etc/outpost/conf.d/10-packages-test.conf     # the test's own drop-in
UNIT=/lib/systemd/system/outpost.service

if [ "$(id -u)" -ne 0 ]; then
    echo "packages: needs root to install packages; skipped" >&2
    exit 77
fi

step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "packages: FAIL: $*" >&2; exit 1; }
installed() {
    dpkg-query -W -f='${Status}\n' "$@" 2>/dev/null | grep -q ' installed$'
}
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; return 1; }
}
purge() {
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
        -o DPkg::Lock::Timeout=300 "${PACKAGES[@]}" >"$work/purge.log" 2>&1 \
        || { cat "$work/purge.log" >&2; return 1; }
}

daemon_pid=
fake_pid=
examples=
cleanup() {
    local rc=$?
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
    if [ -n "$examples" ]; then
        for kind in input filter output; do
            make -s -C "$examples/$kind" uninstall >/dev/null 2>&1 || true
        done
    fi
    if installed "${PACKAGES[@]}"; then
        purge || true
    fi
    rm -f "$MARK" /etc/outpost/conf.d/60-examples.conf
    rmdir /etc/outpost/conf.d /etc/outpost 2>/dev/null || true
    [ $rc -eq 0 ] && echo "packages: all steps passed" >&2
    exit $rc
}

# Not over someone's real install: only over what an earlier run of this
# test left behind (its drop-in marks it).
if installed "${PACKAGES[@]}" || [ -e /etc/outpost ]; then
    [ -e "$MARK" ] || fail "outpost is installed on this machine (or /etc/outpost exists): not touching it"
    echo "packages: purging what an earlier run left" >&2
    mkdir -p "$work"
    purge || true
    rm -rf /etc/outpost
fi
trap cleanup EXIT
mkdir -p "$work"

# -- 1 --------------------------------------------------------------------
step "1. build the packages (Release) and run lintian"
# At the lowest CPU priority, should anything run beside it.
nice -n 19 "$here/../../packaging/build-debs.sh" "$work/new" >/dev/null
mapfile -t new_debs < <(ls "$work"/new/*.deb | grep -v -- -dbgsym_)
[ ${#new_debs[@]} -eq ${#PACKAGES[@]} ] || fail "expected ${#PACKAGES[@]} packages, got: ${new_debs[*]}"
version=$(dpkg-deb -f "$work"/new/outpost_*.deb Version)
nice -n 19 lintian --fail-on error,warning "$work"/new/*.changes \
    || fail "lintian has errors or warnings (overrides: packaging/debian/*.lintian-overrides)"
# The split: the core package pulls no database client library.
core_deps=$(dpkg-deb -f "$work"/new/outpost_*.deb Depends)
for lib in libpq libhiredis librdkafka; do
    case $core_deps in *$lib*) fail "outpost depends on $lib: $core_deps";; esac
done
dpkg-deb -f "$work"/new/outpost-postgres_*.deb Depends | grep -q libpq5 \
    || fail "outpost-postgres does not depend on libpq5"

# -- 2 --------------------------------------------------------------------
step "2. the previous release: the packages repacked as ${version}~prev"
prev="${version}~prev"
rm -rf "$work/old"; mkdir -p "$work/old"
for deb in "${new_debs[@]}"; do
    d=$(mktemp -d "$work/repack.XXXXXX")
    dpkg-deb -R "$deb" "$d"
    sed -i -e "s/^Version: .*/Version: $prev/" \
           -e "s/(= $version)/(= $prev)/g; s/(>= $version)/(>= $prev)/g" \
        "$d/DEBIAN/control"
    if [ -f "$d/etc/outpost/outpost.conf" ]; then
        echo "# (as shipped by the previous release)" >>"$d/etc/outpost/outpost.conf"
        (cd "$d" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort \
            | xargs md5sum) >"$d/DEBIAN/md5sums"
    fi
    dpkg-deb -b "$d" "$work/old/" >/dev/null
    rm -rf "$d"
done

# -- 3 --------------------------------------------------------------------
step "3. install the previous release; configure; run; keep state"
apt_install "$work"/old/*.deb
installed "${PACKAGES[@]}" || fail "not every package is installed"
[ "$(dpkg-query -W -f='${Version}' outpost)" = "$prev" ] || fail "outpost is not $prev"
getent passwd outpost >/dev/null || fail "postinst made no outpost user"
[ "$(stat -c %U:%a /var/lib/outpost)" = outpost:750 ] || fail "/var/lib/outpost: $(stat -c %U:%a /var/lib/outpost)"
[ "$(stat -c %a /etc/default/outpost)" = 600 ] || fail "/etc/default/outpost is not 0600"

# fakeapi, from the build tree, on a free port.
coproc FAKE { exec "$fakeapi"; }
fake_pid=$FAKE_PID
read -r _ port <&"${FAKE[0]}"
[ -n "$port" ] || fail "fakeapi did not start"

# The operator's edits: the conffile (text logs), a secret in
# /etc/default/outpost, a drop-in that uses it.
sed -i 's/^log_format = "json"/log_format = "text"/' /etc/outpost/outpost.conf
grep -q '^log_format = "text"' /etc/outpost/outpost.conf || fail "could not edit outpost.conf"
fake=http://127.0.0.1:$port
slack_path=/slack/services/T0UTP0ST/B0UTP0ST/packagetest
cat >>/etc/default/outpost <<EOF
FAKEAPI_URL=$fake
SLACK_WEBHOOK_URL=$fake$slack_path
EOF
# As docs/operators-guide.md sets up a first integration: a check,
# health, alert, and Slack (fakeapi's) for the alerts.
cat >"$MARK" <<EOF
# tests/packages/run.sh: one integration against tests/fakeapi.
http "crm" {
  url      = "\${FAKEAPI_URL}/health"
  interval = "1s"
}
health "all" { }
alert "default" { }
slack "ops" { webhook_url_env = "SLACK_WEBHOOK_URL" }
jsonl "checks" { path = "/var/log/outpost/checks.jsonl" }
EOF

# Runs the installed daemon as outpost.service does: its ExecStartPre and
# ExecStart command lines from the installed unit, as its User, with no
# new privileges and an empty capability bounding set, with its
# EnvironmentFile. Leaves the daemon's pid in daemon_pid.
unit_line() { sed -n "s/^$1=//p" "$UNIT"; }
# as_service CMD...: execs CMD as the service would run (call it in a
# subshell: `(as_service ...)`, or in the background).
as_service() {
    set -a; . /etc/default/outpost; set +a
    exec setpriv --reuid=outpost --regid=outpost --init-groups \
        --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
}
start_service() {
    # shellcheck disable=SC2046
    (as_service $(unit_line ExecStartPre)) >"$work/pre.log" 2>&1 \
        || { cat "$work/pre.log" >&2; fail "ExecStartPre (outpostd -t) failed"; }
    # shellcheck disable=SC2046
    as_service $(unit_line ExecStart) 2>"$work/daemon.log" &
    daemon_pid=$!
}
stop_service() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || fail "outpostd exited $? on SIGTERM: $(cat "$work/daemon.log"; ls -laR /var/lib/outpost)"
    daemon_pid=
}
# wait_records N: until /var/log/outpost/checks.jsonl has N healthy
# measurements of crm (20 s at most).
wait_records() {
    for _ in $(seq 200); do
        n=$(grep -c '^{"type":"measurement".*"integration":"crm".*"success":true' \
                /var/log/outpost/checks.jsonl 2>/dev/null || true)
        [ "${n:-0}" -ge "$1" ] && return 0
        sleep 0.1
    done
    cat "$work/daemon.log" >&2
    fail "fewer than $1 checks recorded in /var/log/outpost/checks.jsonl"
}

start_service
wait_records 2
stop_service
[ -n "$(find /var/lib/outpost -type f)" ] || fail "the health filter kept no state in /var/lib/outpost"
find /var/lib/outpost -type f | sort >"$work/state.before"
before=$(wc -l </var/log/outpost/checks.jsonl)

# -- 4 --------------------------------------------------------------------
step "4. upgrade $prev -> $version"
apt_install "${new_debs[@]}"
for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Version}' "$p")" = "$version" ] || fail "$p was not upgraded"
done
grep -q '^log_format = "text"' /etc/outpost/outpost.conf \
    || fail "the upgrade lost the operator's edit of outpost.conf"
grep -q "FAKEAPI_URL=" /etc/default/outpost || fail "the upgrade lost /etc/default/outpost"
[ -e "$MARK" ] || fail "the upgrade lost the operator's drop-in"
find /var/lib/outpost -type f | sort | comm -23 "$work/state.before" - \
    | grep . && fail "the upgrade lost state files (above)"
[ "$(wc -l </var/log/outpost/checks.jsonl)" -ge "$before" ] || fail "the upgrade lost recorded checks"
getent passwd outpost >/dev/null || fail "the upgrade lost the outpost user"

# -- 5 --------------------------------------------------------------------
step "5. outpostd -t; the unit: systemd-analyze verify and security"
# debian/changelog's version is the daemon's (CMakeLists.txt project()).
/usr/sbin/outpostd --version | grep -q "^outpostd $version " \
    || fail "the package is $version, $(/usr/sbin/outpostd --version): bump packaging/debian/changelog"
(as_service /usr/sbin/outpostd -t -C /etc/outpost/outpost.conf) \
    || fail "outpostd -t refuses the installed config"
out=$(systemd-analyze verify "$UNIT" 2>&1) \
    || fail "systemd-analyze verify $UNIT: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains about $UNIT: $out"
score=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 \
        | sed -n 's/.*Overall exposure level for outpost.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no score from systemd-analyze security"
echo "packages: systemd-analyze security --offline=yes: $score" >&2
awk -v s="$score" 'BEGIN { exit !(s < 2.0) }' || fail "exposure $score is not under 2.0"

# -- 6 --------------------------------------------------------------------
step "6. the installed daemon as the unit runs it, against fakeapi"
slack_received() {
    curl -fsS "$fake/_admin/received?path=/slack/" | grep -Eo '"status": *2[0-9]{2}' | wc -l
}
(as_service /usr/sbin/outpostd -C /etc/outpost/outpost.conf --test-notify ops) \
    >"$work/notify.log" 2>&1 || { cat "$work/notify.log" >&2; fail "--test-notify ops failed"; }
[ "$(slack_received)" -eq 1 ] || fail "the test notification did not reach Slack"
start_service
wait_records $((before + 2))
kill -HUP "$daemon_pid"             # ExecReload: the config is reloaded
sleep 0.5
kill -0 "$daemon_pid" || fail "outpostd died on SIGHUP"
# crm goes down: after 3 failed checks the alert reaches Slack.
curl -fsS -X POST "$fake/_admin/fault?path=/health&status=503" >/dev/null
for _ in $(seq 200); do
    [ "$(slack_received)" -ge 2 ] && break
    sleep 0.1
done
curl -fsS -X DELETE "$fake/_admin/faults" >/dev/null
stop_service
grep -q 'config reloaded' "$work/daemon.log" || fail "no reload logged after SIGHUP"
[ "$(slack_received)" -ge 2 ] || { cat "$work/daemon.log" >&2; fail "no alert reached Slack when crm went down"; }

# -- 7 --------------------------------------------------------------------
step "7. the example plugins against the installed SDK"
plugindir=$(pkg-config --variable=plugindir outpost-plugin)
[ "$plugindir" = /usr/lib/outpost/plugins ] || fail "plugindir is $plugindir"
abi=$(pkg-config --variable=abi_version outpost-plugin)
/usr/sbin/outpostd --version | grep -q "plugin ABI $abi)" \
    || fail "abi_version $abi is not outpostd's: $(/usr/sbin/outpostd --version)"
examples=$work/examples
rm -rf "$examples"
cp -r /usr/share/doc/outpost-dev/examples/plugins "$examples"
for kind in input filter output; do
    # Only the installed SDK: a clean environment, no path into this tree.
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin make -s -C "$examples/$kind" \
        CFLAGS="-O2 -Werror" install >"$work/make.log" 2>&1 \
        || { cat "$work/make.log" >&2; fail "examples/plugins/$kind does not build"; }
done
[ -f "$plugindir/tcpport.so" ] && [ -f "$plugindir/tagger.so" ] \
    && [ -f "$plugindir/appendfile.so" ] || fail "make install put no plugin into $plugindir"
cat >/etc/outpost/conf.d/60-examples.conf <<EOF
tcpport "fakeapi-port" { host = "127.0.0.1" port = $port interval = "1s" }
tagger "team" { set = {"team=ops"} }
appendfile "audit" { path = "/var/log/outpost/audit.jsonl" }
EOF
start_service
for _ in $(seq 200); do
    grep -q '^{"type":"measurement".*"integration":"fakeapi-port".*"team":"ops".*"success":true' \
        /var/log/outpost/audit.jsonl 2>/dev/null && break
    sleep 0.1
done
stop_service
grep -q '^{"type":"measurement".*"integration":"fakeapi-port".*"team":"ops".*"success":true' \
    /var/log/outpost/audit.jsonl \
    || { cat "$work/daemon.log" >&2; fail "the example plugins recorded no tagged check"; }
for kind in input filter output; do
    make -s -C "$examples/$kind" uninstall
done
examples=
rm /etc/outpost/conf.d/60-examples.conf

# -- 8 --------------------------------------------------------------------
step "8. purge"
kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=
purge
installed "${PACKAGES[@]}" && fail "a package is still installed"
left=$(find /usr/sbin/outpostd /usr/lib/outpost /usr/include/outpost \
            /usr/share/pkgconfig/outpost-plugin.pc /usr/share/doc/outpost \
            /usr/share/doc/outpost-dev /usr/share/man/man8/outpostd.8.gz \
            "$UNIT" /etc/default/outpost /var/lib/outpost /var/log/outpost \
            /etc/systemd/system/multi-user.target.wants/outpost.service \
            /var/lib/systemd/deb-systemd-helper-enabled/outpost.service \
            2>/dev/null || true)
[ -z "$left" ] || fail "purge left: $left"
# Under /etc/outpost only what the operator added stays (dpkg leaves a
# folder that is not empty).
left=$(find /etc/outpost ! -type d)
[ "$left" = "$MARK" ] || fail "purge left under /etc/outpost: $left"
