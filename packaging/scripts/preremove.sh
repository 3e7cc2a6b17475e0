#!/bin/sh
# Before removal (not before an upgrade): stop and disable pinspect's units.
case "$1" in
  upgrade|1) exit 0 ;; # dpkg's "upgrade", rpm's "1 package left": an upgrade
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for unit in /usr/lib/systemd/system/pinspect*.service; do
    [ -e "$unit" ] && systemctl disable --now "$(basename "$unit")" >/dev/null 2>&1
  done
fi
exit 0
