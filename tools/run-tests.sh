#!/bin/sh
# Builds kvmdesk and runs every test (unit, integration, seed replays of the
# fuzz targets), then, when clang is there, runs each libFuzzer target
# briefly. Ends with one line "N passed, N failed".
#   KD_BUILD_DIR  build directory (default: build)
#   KD_FUZZ_SECONDS  seconds per fuzz target (default 20, 0 = skip)
set -eu
cd "$(dirname "$0")/.."
build=${KD_BUILD_DIR:-build}
werror=false
[ "${CI:-}" = "true" ] && werror=true

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=$werror
fi
ninja -C "$build"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 || status=$?

fuzz_failed=0
fuzz_passed=0
seconds=${KD_FUZZ_SECONDS:-20}
if [ "$seconds" -gt 0 ] && command -v clang >/dev/null 2>&1; then
  fuzz_build="$build-fuzz"
  if [ ! -f "$fuzz_build/build.ninja" ]; then
    # Warnings are gcc's job above; clang here only builds the fuzzers.
    CC=clang meson setup "$fuzz_build" -Dfuzzing=true >/dev/null
  fi
  ninja -C "$fuzz_build"
  for target in $(find "$fuzz_build" -type f -perm -u+x -name 'fuzz_*' ! -name '*_replay' | sort); do
    name=$(basename "$target")
    corpus="$fuzz_build/corpus-$name"
    mkdir -p "$corpus"
    seeds=$(dirname "$target")/seeds-$name
    echo "fuzzing $name for ${seconds}s"
    if "$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
         "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) \
         >"$fuzz_build/$name.log" 2>&1; then
      fuzz_passed=$((fuzz_passed + 1))
    else
      echo "FUZZ FAILURE: $name (see $fuzz_build/$name.log)"
      tail -40 "$fuzz_build/$name.log"
      fuzz_failed=$((fuzz_failed + 1))
    fi
  done
fi

python3 - "$build/meson-logs/testlog.json" "$fuzz_passed" "$fuzz_failed" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
passed += int(sys.argv[2])
failed += int(sys.argv[3])
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
[ "$status" -eq 0 ] && [ "$fuzz_failed" -eq 0 ]
