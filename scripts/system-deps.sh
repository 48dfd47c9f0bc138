#!/usr/bin/env bash
# Installs the Debian packages pybpf's tests and tools use (clang-19 and llvm-19 to build
# and check BPF objects, bpftool, libbpf headers, the kernel sources whose selftests the
# test suite reads).  Idempotent and quiet when everything is already there; does nothing
# (and says so) where apt or root is missing.  Nothing it installs is committed.
set -u
want="clang-19 llvm-19 bpftool libbpf-dev linux-source-6.1 linux-source-6.12"
missing=""
for p in $want; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; missing:$missing (tests that need them skip)"
  exit 0
fi
# linux-source-6.12 comes from bookworm-backports on Debian 12.
if grep -qs bookworm /etc/os-release && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/pybpf-backports.list
fi
echo "system-deps: installing$missing"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
  || echo "system-deps: apt-get install failed for some of:$missing (tests that need them skip)"
exit 0
