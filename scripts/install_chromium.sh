#!/usr/bin/env bash
# Debian's chromium for the Playwright browser tests; Playwright's own browser download
# cannot work here (only package registries are reachable), so we never call it.
set -u
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will fail" >&2
else
  echo "warning: /usr/bin/chromium missing and not root; install Debian's chromium for browser tests" >&2
fi
exit 0
