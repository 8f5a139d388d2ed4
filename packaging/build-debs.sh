#!/usr/bin/env bash
# Builds outpost's Debian packages from this tree, out of it:
#
#   packaging/build-debs.sh [--install-deps] OUTDIR
#
# copies the sources (what git tracks, plus new files it does not ignore:
# the tree as it is now, not as last committed) to OUTDIR/src, puts
# packaging/debian there as debian/, and runs `dpkg-buildpackage -us -uc
# -b` (a Release build; OUTPOST_BUILD_JOBS jobs, 2 by default). The .debs
# land in OUTDIR, the build log in OUTDIR/build.log. --install-deps
# first installs with apt-get (as root) what the build needs: the tools
# and whatever Build-Depends in debian/control this machine lacks.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
install_deps=no
if [ "${1:-}" = --install-deps ]; then
    install_deps=yes
    shift
fi
out=${1:?usage: build-debs.sh [--install-deps] OUTDIR}
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@" >/dev/null
}
if [ $install_deps = yes ]; then
    apt-get update -qq
    apt_get build-essential dpkg-dev debhelper fakeroot
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src" "$out"/outpost*.deb "$out"/outpost_*.buildinfo "$out"/outpost_*.changes
mkdir "$out/src"

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z --cached --others --exclude-standard \
        | (cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) \
        | tar -C "$src" --null -T - -cf - | tar -C "$out/src" -xf -
else
    tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . \
        | tar -C "$out/src" -xf -
fi
rm -rf "$out/src/debian"
cp -a "$src/packaging/debian" "$out/src/debian"

cd "$out/src"
if [ $install_deps = yes ]; then
    unmet=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' \
            | sed 's/([^)]*)//g; s/ *| *[^ ]*//g')
    if [ -n "$unmet" ]; then
        echo "build-debs: installing $unmet" >&2
        # shellcheck disable=SC2086
        apt_get $unmet
    fi
fi
if ! DEB_BUILD_OPTIONS="parallel=${OUTPOST_BUILD_JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1; then
    tail -40 "$out/build.log" >&2
    echo "build-debs: dpkg-buildpackage failed; the log is $out/build.log" >&2
    exit 1
fi
ls "$out"/outpost*.deb
