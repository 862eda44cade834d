#!/usr/bin/env bash
# The host unit tests under AddressSanitizer (+LeakSanitizer) and UndefinedBehaviorSanitizer.
#
#   tests/sanitize/run_sanitize.sh [SOURCE_DIR [BUILD_DIR]]
#
# Configures the `sanitize` preset of CMakePresets.json (Debug, SKIFF_SANITIZE=ON, no kernel) in
# BUILD_DIR (default: build/sanitize), builds the unit tests and the fuzz-regression replayers,
# runs them, and fails on a non-zero exit or on any sanitizer report in their output. The CTest
# test `sanitize.unit` calls this with a build directory of its own.
set -u
source_dir=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
build_dir=${2:-$source_dir/build/sanitize}
log_dir=$build_dir/sanitize-logs
started=$SECONDS

say() { echo "sanitize: $*"; }

cd "$source_dir" || exit 1
mkdir -p "$(dirname "$build_dir")"
if ! cmake --preset sanitize -B "$build_dir" >"$build_dir.configure.log" 2>&1; then
    cat "$build_dir.configure.log"
    say "FAIL: configuring the sanitize preset failed"
    exit 1
fi
rm -f "$build_dir.configure.log"
targets=(skiff_unit)
# Fuzz-regression replayers (tests/fuzz) exist once their sources do; build them too.
for target in $(cmake --build "$build_dir" --target help 2>/dev/null | sed -n 's/^\(skiff_fuzz_replay_[a-z_]*\):.*/\1/p'); do
    targets+=("$target")
done
if ! cmake --build "$build_dir" --target "${targets[@]}"; then
    say "FAIL: building ${targets[*]} with -fsanitize=address,undefined failed"
    exit 1
fi
say "built ${targets[*]} in $((SECONDS - started)) s"

# halt_on_error: the first report ends the run with a non-zero status; detect_leaks: LSan runs at
# exit; detect_stack_use_after_return catches pointers to dead stack frames; UBSan stops at the
# first report too (the build also passes -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$log_dir"
status=0
run() {
    local name=$1
    shift
    local log=$log_dir/$name.log
    local run_started=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] || grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer|WARNING: .*Sanitizer' "$log"; then
        grep -E '^\[  FAILED  \]|runtime error:|Sanitizer' "$log" | head -20
        # The report itself, with its stack, is what a developer needs first.
        sed -n '/==[0-9]*==ERROR/,/^SUMMARY/p;/runtime error:/,+12p' "$log" | head -80
        say "FAIL: $name (exit $rc; whole output in $log)"
        status=1
    else
        passed=$(grep -E '^\[  PASSED  \]' "$log" | head -1 | sed 's/^\[  PASSED  \] \(.*\)\.$/\1, /')
        say "ok   $name (${passed}$((SECONDS - run_started)) s)"
    fi
}
run skiff_unit "$build_dir/tests/unit/skiff_unit"
for target in "${targets[@]:1}"; do
    replay=$(find "$build_dir/tests/fuzz" -name "$target" -type f -perm -u+x | head -1)
    [ -n "$replay" ] && run "$target" "$replay" --all
done
say "$([ $status -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - started)) s"
exit $status
