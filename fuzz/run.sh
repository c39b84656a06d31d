#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS each (default 600, ten minutes), one process
# at a time. Exits non-zero if any target crashed; the crashing input is in
# fuzz/artifacts/<target>/ and the output in fuzz/logs/<target>.log.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# The shared fixture corpus of real traffic (FIXTURES, default ../shared/fixtures from the
# repository root) seeds inbound_activity when present: libFuzzer reads only the top level
# of a corpus directory, so its JSON files are copied flat into fuzz/corpus/ (not in git).
set -uo pipefail

seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(inbound_activity signature_header markdown)
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 2
fixtures="${FIXTURES:-$root/../shared/fixtures}"
mkdir -p fuzz/logs

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    if [ "$target" = inbound_activity ] && [ -d "$fixtures" ]; then
        find "$fixtures" -type f -name '*.json' -print0 |
            while IFS= read -r -d '' file; do
                relative="${file#"$fixtures"/}"
                cp "$file" "$corpus/fixture-${relative//\//_}"
            done
    fi
    echo "== $target: ${seconds}s" >&2
    cargo +nightly fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        2>&1 | tee "fuzz/logs/$target.log" | grep -E '^(Done|#[0-9]+.*(INITED|DONE))|stat::number_of_executed_units|ERROR|panicked|SUMMARY' >&2
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        echo "== $target: FAILED (exit $status), see fuzz/logs/$target.log" >&2
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "crashed: ${failed[*]}" >&2
    exit 1
fi
echo "no crashes" >&2
