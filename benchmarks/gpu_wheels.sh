#!/usr/bin/env bash
# The wheels benchmarks/gpu.sh needs on the device machine, downloaded here into .whl/ (ignored by git): that machine
# reaches no registry, and its image (Python 3.12, torch, torchvision, numpy, pyyaml, tqdm, matplotlib, tensorboard)
# lacks zarr and pydantic and what they pull in (typing-extensions too: pydantic needs a newer one than it may have).
# Versions are the ones installed here, so both machines run the same.
#   bash benchmarks/gpu_wheels.sh      then carry ".whl" in the device call (see benchmarks/gpu.sh)
set -euo pipefail
case ${1:-} in -h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac  # the header above
cd "$(dirname "$0")/.."
PACKAGES=(zarr numcodecs donfig google-crc32c pydantic pydantic-core annotated-types typing-inspection typing-extensions)
mkdir -p .git/info .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -f .whl/*.whl
for name in "${PACKAGES[@]}"; do
  version=$(python3 -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
  [ -n "$version" ] || { echo "gpu_wheels.sh: $name is not installed here (bash scripts/setup.sh first)"; exit 1; }
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$name==$version"
done
ls -1 .whl; du -sh .whl
