#!/usr/bin/env bash
# Installs the Debian packages the build links against (and chromium, which the explorer tests
# open `prism explore` pages in), only if they are missing.
# Non-interactive; needs root (or sudo) the first time on a fresh machine.
set -euo pipefail
need=()
for pkg in libopenblas-dev liblz4-dev libxxhash-dev pkg-config chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${need[@]}"
fi
command -v swift >/dev/null 2>&1 || [ -x /opt/swift/usr/bin/swift ] || {
  echo "error: no Swift toolchain found (expected swift on PATH or /opt/swift/usr/bin)" >&2
  exit 1
}
