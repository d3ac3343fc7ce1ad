#!/usr/bin/env bash
# Fuzz labgrade's loaders and parsers of host output (issue 8): every target of fuzz/ for
# MINUTES each, its corpus kept in fuzz/corpus/TARGET, crashes in fuzz/artifacts/TARGET.
# Not run in CI: a full run takes hours. Run it under `nice -n 10` on a shared machine.
#
#   scripts/fuzz.sh [-m MINUTES] [-j JOBS] [-s] [-c] [TARGET...]
#     -m  minutes per target (default 10)
#     -j  targets fuzzed at once (default 1); the execution counts are per target
#     -s  seed the corpus first: the repository's labs and rosters, and every output the
#         probes' unit tests parse (recorded from real tools or canned)
#     -c  minimise each target's corpus after its run (cargo fuzz cmin, edges only), so
#         the corpus kept in the repository stays small
#     TARGET...  only these (default: all, as `cargo fuzz list` gives them)
#
# Works on the stable toolchain: with `--sanitizer none`, cargo-fuzz's flags (sancov
# instrumentation, --cfg fuzzing, debug assertions) are all stable. AddressSanitizer needs
# -Zsanitizer, which is nightly only (fuzz/README.md says how to get it on stable); the
# crate's own unsafe code is a few libc calls, and the fuzzer still catches panics,
# overflows (debug assertions are on), timeouts and memory blow-ups.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
jobs=1
seed=
minimise=
while getopts "m:j:sc" opt; do
  case $opt in
    m) minutes=$OPTARG ;;
    j) jobs=$OPTARG ;;
    s) seed=1 ;;
    c) minimise=1 ;;
    *) sed -n '5,12p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

fuzz=(cargo fuzz)
flags=(--sanitizer none --target-dir "$PWD/target/fuzz")

if [ -n "$seed" ]; then
  seeds=$(mktemp -d)
  LABGRADE_FUZZ_SEEDS=$seeds cargo test --quiet --lib probe:: >/dev/null
  mkdir -p fuzz/corpus
  cp -r "$seeds"/. fuzz/corpus/
  rm -rf "$seeds"
  python3 scripts/fuzz-seeds.py
fi

cd fuzz
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <("${fuzz[@]}" list); fi
"${fuzz[@]}" build "${flags[@]}"

logs=$(mktemp -d)
run_one() {
  local target=$1 log=$logs/$1.log
  mkdir -p "corpus/$target" "artifacts/$target"
  local before
  before=$(find "artifacts/$target" -type f | wc -l)
  local start=$SECONDS
  # A crash stops the target's run; its input is kept in artifacts/TARGET.
  "${fuzz[@]}" run "${flags[@]}" "$target" "corpus/$target" -- \
    -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1 || true
  # libFuzzer's own count of the time it fuzzed; the wall clock when it stopped on a crash.
  local took
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}' || true)
  [ -n "$took" ] || took=$((SECONDS - start))
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  local crashes=$(($(find "artifacts/$target" -type f | wc -l) - before))
  local corpus
  corpus=$(find "corpus/$target" -type f | wc -l)
  printf '%-16s %6ss %12s execs %4s crashes %6s corpus\n' \
    "$target" "$took" "${execs:-0}" "$crashes" "$corpus" | tee "$logs/$target.line"
  if [ -n "$minimise" ]; then
    "${fuzz[@]}" cmin "${flags[@]}" "$target" "corpus/$target" -- \
      -set_cover_merge=1 -use_counters=0 >"$logs/$target.cmin.log" 2>&1 || true
  fi
  if [ "$crashes" -gt 0 ]; then
    grep -m1 -A3 -E "panicked at|ERROR: libFuzzer" "$log" | sed 's/^/    /' || true
  fi
}

started=$SECONDS
running=0
for target in "${targets[@]}"; do
  run_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

total_execs=0
total_crashes=0
for target in "${targets[@]}"; do
  read -r _ _ execs _ crashes _ <"$logs/$target.line"
  total_execs=$((total_execs + execs))
  total_crashes=$((total_crashes + crashes))
done
printf 'summary: %d targets, %d min each, %ss in all, %d execs, %d crashes (logs: %s)\n' \
  "${#targets[@]}" "$minutes" "$((SECONDS - started))" "$total_execs" "$total_crashes" "$logs"
