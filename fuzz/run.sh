#!/usr/bin/env bash
# Runs every fuzz target for a set time and records the outcome in fuzz/LAST_RUN.md.
#
#   bash fuzz/run.sh                 # each target 600 s, two at a time
#   SECONDS_PER_TARGET=60 JOBS=1 bash fuzz/run.sh mlsd list
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). A crash leaves its input in fuzz/artifacts/TARGET/; copy it to
# fuzz/regressions/TARGET/ once fixed, and the test suite replays it (tests/integration/fuzzed.rs).
set -euo pipefail
cd "$(dirname "$0")"

SECS=${SECONDS_PER_TARGET:-600}
JOBS=${JOBS:-2}
ALL=(mlsd list plan_json plan_msgpack meta)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

cargo +nightly fuzz build -O >"$LOGS/build.log" 2>&1 || { cat "$LOGS/build.log"; exit 1; }

run_one() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  # -rss_limit_mb: a reader must not blow up memory on a small input either.
  if cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 \
      -print_final_stats=1 >"$LOGS/$t.log" 2>&1; then
    echo ok >"$LOGS/$t.status"
  else
    echo "FAILED (exit $?)" >"$LOGS/$t.status"
  fi
}

running=0
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
{
  echo "# Last fuzzing run"
  echo
  echo "Written by \`fuzz/run.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'),"
  echo "${SECS} s per target, ${JOBS} at a time, $(rustup run nightly rustc --version)."
  echo
  echo "| target | result | runs | seconds | corpus (inputs) | peak RSS |"
  echo "|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    log="$LOGS/$t.log"
    status=$(cat "$LOGS/$t.status")
    [ "$status" = ok ] || failed=1
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo '?')
    corpus=$(ls "corpus/$t" | wc -l)
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "| $t | $status | $runs | $secs | $corpus | ${rss} MB |"
  done
  echo
  echo "Last lines of each target's output:"
  for t in "${TARGETS[@]}"; do
    echo
    echo "### $t"
    echo
    echo '```'
    grep -v '^\s*$' "$LOGS/$t.log" | tail -n 12
    echo '```'
  done
} >LAST_RUN.md
cat LAST_RUN.md
exit $failed
