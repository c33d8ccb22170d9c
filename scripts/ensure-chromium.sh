#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/server/dashboard.test.ts) when it is
# missing; `npm test` runs this first (its pretest step). playwright-core drives the browser; Playwright's
# own browser download needs internet access, Debian's package only needs the apt mirror.
set -euo pipefail
chromium=/usr/bin/chromium # where Debian installs it, and where the test looks
if [ -x "$chromium" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $chromium is missing and apt-get is not available; install Chromium so that $chromium runs" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "ensure-chromium: $chromium is missing; run 'bash scripts/ensure-chromium.sh' as root to install Debian's chromium" >&2
    exit 1
  fi
fi
echo "ensure-chromium: installing Debian's chromium for the dashboard test" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
