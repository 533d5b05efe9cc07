# ensure_packages PKG... — installs the Debian packages that are not installed yet (as root).
# Shared by the test, bench, load and soak scripts so they install the same way.
#
# Package daemons are never started by the install: the tests start their own instances on free
# ports with their state in temporary directories, and a packaged daemon that cannot bind its
# default port (apache2 and nginx both want :80) would fail its post-install script and with it
# the install. A policy-rc.d that refuses every start does that for the install's duration, unless
# the machine already has one (container images usually do), which is then left as it was.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    apt-get update -qq
    local rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
    return "$rc"
  fi
}
