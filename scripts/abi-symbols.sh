#!/usr/bin/env bash
# abi-symbols.sh - the functions outpostd exports to plugins, kept in one
# list: core/outpostd.sym, the linker's --dynamic-list for outpostd.
#
#   scripts/abi-symbols.sh --update            rewrite the list from the
#                                              SDK headers
#   scripts/abi-symbols.sh --check [OUTPOSTD]  the list must match the
#                                              headers and, given a built
#                                              outpostd, what it exports
#
# The SDK is every function declared extern in include/outpost/*.h whose
# name starts with outpost_ (static inline ones are compiled into plugins
# and are not exported). The compiler lists them (gcc -aux-info), so no
# regex has to understand C declarations. Besides the list, outpostd may
# export only what the toolchain adds itself: the symbols that mark the
# ends of its sections, copies of libraries' variables (stdout@GLIBC...),
# and the sanitizers' symbols in a sanitized build.
# Environment: CC (default cc), CFLAGS for the headers' own includes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/core/outpostd.sym
cc=${CC:-cc}

usage() {
    echo "usage: $0 --update | --check [path/to/outpostd]" >&2
    exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outpost-abi-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The SDK functions the headers declare, sorted, one a line.
header_symbols() {
    local h cflags
    for h in "$root"/include/outpost/*.h; do
        printf '#include <outpost/%s>\n' "$(basename "$h")"
    done > "$tmp/sdk.c"
    cflags=$(pkg-config --cflags libcurl 2>/dev/null || true)
    # shellcheck disable=SC2086  # word splitting of flags is wanted
    "$cc" -D_GNU_SOURCE -I"$root/include" $cflags ${CFLAGS:-} \
        -aux-info "$tmp/aux" -c -o /dev/null "$tmp/sdk.c"
    # Lines look like: /* include/outpost/x.h:12:NC */ extern T *name (..);
    grep '/include/outpost/[^ ]*\.h:[0-9]*:' "$tmp/aux" | grep ' extern ' |
        sed -nE 's/^.*[ *](outpost_[A-Za-z0-9_]+) \(.*$/\1/p' | sort -u
}

list_symbols() {
    sed -nE 's/^[[:space:]]+(outpost_[A-Za-z0-9_]+);.*$/\1/p' "$list" | sort
}

# Names a toolchain puts in a dynamic symbol table unasked; name@LIB is a
# library's variable copied into the program (a copy relocation: stdout).
toolchain_symbol() {
    case $1 in
        *@*) return 0 ;;
        _IO_stdin_used|__bss_start|__data_start|data_start|_edata|_end|\
        _start|_init|_fini) return 0 ;;
        __asan_*|__lsan_*|__ubsan_*|__sanitizer_*|__odr_asan[._]*) return 0 ;;
    esac
    return 1
}

write_list() {
    {
        cat <<'HEAD'
/*
 * outpostd.sym - the functions outpostd exports to plugins: the SDK of
 * include/outpost/*.h, and nothing else. The linker reads this file as
 * outpostd's --dynamic-list (core/CMakeLists.txt), so the core's own
 * functions stay hidden and a plugin's libraries (libpq, librdkafka,
 * hiredis...) can never bind to a core function that shares a name with
 * one of theirs.
 *
 * Generated; after adding or removing an SDK function run
 *     scripts/abi-symbols.sh --update
 * and commit the result. Adding a function: bump OUTPOST_ABI_MINOR;
 * removing or changing one: OUTPOST_ABI_VERSION (include/outpost/plugin.h).
 * The test abi.symbols (scripts/abi-symbols.sh --check) fails while this
 * list, the headers and the built outpostd disagree.
 */
{
HEAD
        sed 's/^.*$/    &;/' "$1"
        echo '};'
    } > "$list"
}

case ${1:-} in
--update)
    header_symbols > "$tmp/headers"
    write_list "$tmp/headers"
    echo "$list: $(wc -l < "$tmp/headers") symbols"
    ;;
--check)
    fail=0
    header_symbols > "$tmp/headers"
    list_symbols > "$tmp/list"
    if ! diff -u --label "core/outpostd.sym" --label "include/outpost/*.h" \
            "$tmp/list" "$tmp/headers" > "$tmp/diff"; then
        echo "The SDK headers and core/outpostd.sym disagree" \
             "(+: declared, not listed; -: listed, not declared):"
        grep '^[-+]outpost_' "$tmp/diff"
        fail=1
    fi
    if [ -n "${2:-}" ]; then
        nm -D --defined-only "$2" | awk '{ print $NF }' | sort -u \
            > "$tmp/exported"
        grep '^outpost_' "$tmp/exported" > "$tmp/exported_sdk" || true
        if ! diff -u --label "core/outpostd.sym" --label "$2" \
                "$tmp/list" "$tmp/exported_sdk" > "$tmp/diff"; then
            echo "$2 does not export exactly core/outpostd.sym" \
                 "(+: exported, not listed; -: listed, not exported):"
            grep '^[-+]outpost_' "$tmp/diff"
            fail=1
        fi
        # A runtime linked in statically (clang's ASan) exports its
        # interceptors (malloc, read...): only the SDK part is checked.
        if grep -qx '__asan_init' "$tmp/exported"; then
            echo "$2 carries a static sanitizer runtime: its other exports" \
                 "are not checked"
            : > "$tmp/exported"
        fi
        while read -r sym; do
            case $sym in outpost_*) continue ;; esac
            if ! toolchain_symbol "$sym"; then
                echo "$2 exports '$sym', which is not part of the SDK" \
                     "(is it linked with -rdynamic / ENABLE_EXPORTS?)"
                fail=1
            fi
        done < "$tmp/exported"
    fi
    if [ "$fail" -ne 0 ]; then
        echo "If the SDK change is meant: run" \
             "scripts/abi-symbols.sh --update," \
             "rebuild, bump OUTPOST_ABI_MINOR (a function added) or" \
             "OUTPOST_ABI_VERSION (one removed or changed) in" \
             "include/outpost/plugin.h, and commit core/outpostd.sym."
        exit 1
    fi
    echo "ABI symbols: $(wc -l < "$tmp/list") SDK functions, list up to date"
    ;;
*)
    usage
    ;;
esac
