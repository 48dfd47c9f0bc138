#!/bin/sh
# Rebuilds examples/c/*.o from their sources with clang-19 (what `make examples` runs).
# Compiled from this directory with relative names and the DWARF sections stripped
# (BTF and .BTF.ext stay), so the objects do not depend on where the tree lives.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
STRIP=${STRIP:-llvm-strip-19}
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || echo "$(uname -m)-linux-gnu")
for src in *.c; do
	obj=${src%.c}.o
	echo "  CLANG   examples/c/$obj"
	"$CLANG" -target bpf -g -O2 -Wall -Werror -fdebug-prefix-map="$PWD"=. -I"/usr/include/$ARCH" -c "$src" -o "$obj"
	"$STRIP" --strip-debug "$obj"
done
