#!/usr/bin/env bash
# Install, build, and run the whole CTest suite. Rendering tests need an X
# display, so CTest runs under Xvfb.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

cd "$UNIONSCOPE_BUILD"
xvfb-run -a -s "-screen 0 1280x1024x24" ctest --output-on-failure -j"$(nproc)" "$@"
