#!/usr/bin/env bash
# Installs the Debian packages rvisor's tests, benchmarks and guest image need.
# chromium: the browser the in-tab VM tests drive (test/web.test.ts, through playwright-core).
# Idempotent; run as root (CI runs as root). Prints what it does.
set -euo pipefail
PKGS="gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user qemu-system-misc opensbi qemu-utils device-tree-compiler linux-source-6.1 build-essential bc bison flex libssl-dev libelf-dev cpio e2fsprogs dpkg-dev xz-utils golang-go zstd skopeo umoci docker-registry mmdebstrap chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ] && [ -n "$(ls /etc/apt/sources.list.d/rvisor-src.sources 2>/dev/null)" ]; then
  echo "install-deps: all packages present"; exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-deps: apt-get not found; install these Debian packages by hand:$missing" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
# busybox is built from `apt-get source busybox`, which needs a deb-src line.
if [ ! -f /etc/apt/sources.list.d/rvisor-src.sources ]; then
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ]; then
    sed 's/^Types: deb$/Types: deb-src/' "$src" | $SUDO tee /etc/apt/sources.list.d/rvisor-src.sources >/dev/null
  else
    echo "deb-src http://deb.debian.org/debian bookworm main" | $SUDO tee /etc/apt/sources.list.d/rvisor-src.list >/dev/null
    $SUDO touch /etc/apt/sources.list.d/rvisor-src.sources
  fi
fi
echo "install-deps: apt-get update"
$SUDO apt-get update -qq
echo "install-deps: installing$missing"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: done"
