#!/usr/bin/env bash
# The main job on the built-in sample data: install, build, make a phantom
# patient (three visits of CT + AP/lateral radiographs, with ground truth),
# read it back through the ingest, and say where everything is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

OUT="${1:-$UNIONSCOPE_ROOT/sample_output}"
UNIONSCOPE="$UNIONSCOPE_BUILD/pipeline/cli/unionscope"
rm -rf "$OUT"
"$UNIONSCOPE" phantom --out "$OUT/patient" --scenario normal --implant nail --seed 1 --preview
"$UNIONSCOPE" inspect "$OUT/patient/dicom" | tee "$OUT/inspect.txt"
"$UNIONSCOPE" inspect --json "$OUT/patient/dicom" > "$OUT/inspect.json"
# Exit code 1 means "some inputs or series failed"; the report is written all
# the same, so only a usage or internal error (2, 3) stops the sample.
status=0
"$UNIONSCOPE" analyze "$OUT/patient/dicom" --reference-date 2025-03-03 --out "$OUT/analysis" || status=$?
if [ "$status" -gt 1 ]; then
  echo "analyze failed (exit $status)" >&2
  exit "$status"
fi
echo
echo "Sample patient: $OUT/patient/dicom   (DICOM: CT and DX per visit; previews in $OUT/patient/preview)"
echo "Ground truth:   $OUT/patient/truth.json"
echo "Ingest:         $OUT/inspect.txt, $OUT/inspect.json"
echo "Report:         $OUT/analysis/report.json, report.html   (pictures in $OUT/analysis/images, DICOM SEG/SR in $OUT/analysis/dicom)"
