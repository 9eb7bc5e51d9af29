#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing. Playwright drives this
# binary (its own browser download cannot work on a closed network).
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-chromium: not root and no sudo; browser tests will be skipped" >&2
    exit 0
  fi
fi
echo "install-chromium: installing Debian's chromium package..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium >/dev/null \
  || echo "install-chromium: apt-get failed; browser tests will be skipped" >&2
exit 0
