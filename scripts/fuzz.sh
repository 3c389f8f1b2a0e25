#!/usr/bin/env bash
# Fuzzes the DICOM header and pixel paths with libFuzzer for SECONDS (default
# 600). Seeds: a phantom's CT slice and radiograph, plus ../shared/realdata's
# small files when present. Findings land in build-fuzz/findings/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
SECONDS_TO_RUN="${1:-600}"
FUZZ_BUILD="$UNIONSCOPE_ROOT/build-fuzz"
CC=clang CXX=clang++ cmake -S "$UNIONSCOPE_ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUNIONSCOPE_BUILD_FUZZERS=ON -DUNIONSCOPE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$FUZZ_BUILD" --target unionscope_fuzz_dicom -j"$(nproc)"

corpus="$FUZZ_BUILD/corpus"
mkdir -p "$corpus" "$FUZZ_BUILD/findings"
if [ -z "$(ls -A "$corpus")" ]; then
  seeds="$(mktemp -d)"
  "$UNIONSCOPE_BUILD/pipeline/cli/unionscope" phantom --out "$seeds" --size small --implant plate --weeks 6
  cp "$seeds/dicom/W06/DX_AP.dcm" "$seeds/dicom/W06/CT/CT0010.dcm" "$corpus/"
  rm -rf "$seeds"
  realdata="$UNIONSCOPE_ROOT/../shared/realdata"
  if [ -d "$realdata" ]; then
    find "$realdata/dicom_wg04" "$realdata/dicom_misc" -type f -size -1M -exec cp {} "$corpus/" \; 2>/dev/null || true
  fi
fi
cd "$FUZZ_BUILD/findings"
"$FUZZ_BUILD/tests/unionscope_fuzz_dicom" "$corpus" -max_total_time="$SECONDS_TO_RUN" \
  -rss_limit_mb=2048 -timeout=10 -max_len=1048576 -print_final_stats=1
