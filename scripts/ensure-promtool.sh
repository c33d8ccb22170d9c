#!/usr/bin/env bash
# Installs promtool, which lints the /metrics exposition in test/server/metrics.test.ts
# (`promtool check metrics`), when it is missing. It comes from Debian's `prometheus` package; only the
# promtool binary is taken out of it (into /usr/local/bin), so no Prometheus server, service or web
# assets get installed. promtool links against libc only.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt downloads as its own user where it can write.
if id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
(cd "$work" && apt-get download -qq prometheus >/dev/null)
dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
install -m 0755 "$work/usr/bin/promtool" /usr/local/bin/promtool
promtool --version | head -1
