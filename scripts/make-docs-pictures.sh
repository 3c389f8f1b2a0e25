#!/usr/bin/env bash
# Regenerates docs/phantoms/: one sheet per scenario (rows: visits; columns:
# axial CT through the fracture, coronal reformat, AP and lateral radiograph).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
UNIONSCOPE="$UNIONSCOPE_BUILD/pipeline/cli/unionscope"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$UNIONSCOPE_ROOT/docs/phantoms"
implants=(none nail plate none none)
i=0
for scenario in normal delayed atrophic_nonunion hypertrophic_nonunion partial_bridging; do
  "$UNIONSCOPE" phantom --out "$work/$scenario" --scenario "$scenario" --implant "${implants[$i]}" \
    --seed $((i + 11)) --preview
  cp "$work/$scenario/preview/sheet.jpg" "$UNIONSCOPE_ROOT/docs/phantoms/$scenario.jpg"
  i=$((i + 1))
done
echo "wrote $UNIONSCOPE_ROOT/docs/phantoms/"

# docs/viewer/: the viewer's snapshot of a healing phantom across its visits
# (rendering needs an X display: under xvfb-run when there is none).
"$UNIONSCOPE" phantom --out "$work/viewer" --scenario normal --seed 11
"$UNIONSCOPE" analyze "$work/viewer/dicom" --reference-date 2025-03-03 --no-snapshot \
  --out "$work/viewer/analysis"
mkdir -p "$UNIONSCOPE_ROOT/docs/viewer"
render=()
if [[ -z "${DISPLAY:-}" ]]; then render=(xvfb-run -a -s "-screen 0 1280x1024x24"); fi
"${render[@]}" "$UNIONSCOPE" view "$work/viewer/analysis" --size 1050x630 \
  --snapshot "$UNIONSCOPE_ROOT/docs/viewer/healing_phantom.png"
echo "wrote $UNIONSCOPE_ROOT/docs/viewer/"
