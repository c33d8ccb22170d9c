#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/server/dashboard.test.ts) when it is
# missing. playwright-core drives it; Playwright's own browser download cannot run on machines without
# internet, the Debian package can.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
