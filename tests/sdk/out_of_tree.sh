#!/usr/bin/env bash
# Installs the SDK into a scratch prefix, builds sdk/examples with CMake
# (find_package) and with pkg-config only, and checks each plugin loads.
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d /tmp/nw-sdk-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

cmake --install "$build" --prefix "$work/prefix" --component Unspecified >/dev/null
test -f "$work/prefix/include/nodewright/nodewright.h"
test -f "$work/prefix/lib/pkgconfig/nodewright-plugin.pc" || \
  test -f "$work/prefix/lib/x86_64-linux-gnu/pkgconfig/nodewright-plugin.pc"

# Only the installed SDK: a copy of the examples outside the source tree.
cp -r "$src/sdk/examples" "$work/examples"
cmake -S "$work/examples" -B "$work/ex-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/ex-build" >/dev/null
for p in example-provider example-pricing; do
  "$build/bin/nodewright" plugins check "$work/ex-build/$p.so" | grep -q "status:      ok"
  echo "cmake: $p ok"
done

pcdir=$(dirname "$(find "$work/prefix" -name nodewright-plugin.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
plugindir=$(pkg-config --variable=plugindir nodewright-plugin)
case "$(realpath -m "$plugindir")" in "$work/prefix"/*/nodewright) ;; *) echo "bad plugindir $plugindir"; exit 1;; esac
mkdir -p "$work/pc" && chmod 755 "$work/pc"
cc -std=c11 -Wall -Wextra -Werror -shared $(pkg-config --cflags nodewright-plugin) \
   -o "$work/pc/example-pricing.so" "$work/examples/example-pricing/pricing.c" \
   $(pkg-config --libs nodewright-plugin)
"$build/bin/nodewright" plugins check "$work/pc/example-pricing.so" | grep -q "name:        example-pricing"
echo "pkg-config: example-pricing ok"
echo "1 passed, 0 failed"
