#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian 12 machine: the Debian packages the
# end-to-end tests use as real peers, then the npm dependencies (bun among them).
set -euo pipefail
cd "$(dirname "$0")/.."
# python3-proxmoxer: a real third-party PVE client run against the simulator
# openssh-server/openssh-client: a real sshd on loopback for the backup server shutdown
# rsync: backup-sync;  iproute2: network details and namespaces for Wake-on-LAN;  systemd: systemd-analyze
# etherwake: the raw-frame Wake-on-LAN (wol_via ether);  tcpdump: captures it in the Wake-on-LAN test
# tzdata: a backup job schedule read in the node's time zone (backup-wakeup --jobs test)
# dpkg-dev/lintian: the .deb package checks;  logrotate: checks the shipped rotation config
# chromium/fonts-dejavu-core: the HTML report rendered and screenshot in a real headless browser
# postfix (its smtp-sink) + msmtp: a real mail sink behind a sendmail-compatible program
# prometheus (promtool) + prometheus-node-exporter: the metrics file checks;  groff: man pages;  tzdata: local-time schedules
pkgs=(python3 logrotate python3-proxmoxer python3-requests openssh-server openssh-client rsync iproute2 systemd dpkg-dev lintian openssl chromium fonts-dejavu-core etherwake tcpdump postfix msmtp prometheus prometheus-node-exporter groff tzdata)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test/setup.sh: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  # postfix only for its smtp-sink: no mail system is set up
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
