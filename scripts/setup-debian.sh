#!/usr/bin/env bash
# Installs what clipmill needs to build, run and test on Debian 12, when missing.
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libsqlite3-dev sqlite3 liblmdb-dev lmdb-utils libssl-dev
  libcurl4-openssl-dev libopenblas-dev libisal-dev
  libprotobuf-c-dev protobuf-c-compiler
  python3 python3-numpy python3-lmdb python3-av python3-torch libclang-rt-14-dev bc
  python3-setuptools python3-venv help2man man-db file
  libmicrohttpd-dev chromium curl
  libhdf5-dev python3-h5py
  munge slurmctld slurmd slurm-client
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
