#!/bin/sh
# After installing or upgrading: make systemd see the units. No agent is
# enabled or started here: pinspect is first a command-line tool, and
# running an agent is the operator's choice (systemctl enable --now pinspect).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # An upgrade restarts the units that were running.
  for unit in /usr/lib/systemd/system/pinspect*.service; do
    [ -e "$unit" ] && systemctl try-restart "$(basename "$unit")" >/dev/null 2>&1
  done
fi
exit 0
