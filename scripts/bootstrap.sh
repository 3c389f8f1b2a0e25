#!/usr/bin/env bash
# Installs what UnionScope needs from Debian bookworm (only what is missing),
# then configures and builds. Sourced by run-sample.sh and run-tests.sh.
set -euo pipefail

UNIONSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UNIONSCOPE_BUILD="${UNIONSCOPE_BUILD:-$UNIONSCOPE_ROOT/build}"
export UNIONSCOPE_ROOT UNIONSCOPE_BUILD

PACKAGES=(
  cmake g++ make pkg-config git ccache
  libinsighttoolkit5-dev libvtk9-dev libopencv-dev
  libdcmtk-dev dcmtk libopenjp2-7-dev libssl-dev libboost-dev
  libtbb-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  xvfb xauth libgl1-mesa-dri dicom3tools python3-pydicom
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S "$UNIONSCOPE_ROOT" -B "$UNIONSCOPE_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$UNIONSCOPE_BUILD" -j"$(nproc)"
