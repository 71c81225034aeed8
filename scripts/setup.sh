#!/usr/bin/env bash
# Install what viva-robot needs on a fresh Debian/Ubuntu machine: system libraries (headless EGL rendering,
# libusb for pyrealsense2, ffmpeg for inspecting videos), then the package with its ROS 2 / RealSense
# / OpenCV (calibration) extras and test tools. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(libusb-1.0-0 libegl1 libgl1-mesa-dri libgles2 libosmesa6)
missing=()
for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
# Always (re)install from this checkout: an editable install made from another clone would shadow it.
"$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[ros,realsense,calibrate,dev]'
