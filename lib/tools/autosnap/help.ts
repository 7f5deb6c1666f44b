// `autosnap --help`. The full reference is docs/autosnap.md.
import { globalHelp } from '../../cli/help.ts';
import { DEFAULT_HOOK_TIMEOUT, DEFAULT_INTERVAL_MIN } from './jobs.ts';
import { DEFAULT_LOCK_FILE } from './runlock.ts';
import { DEFAULT_MAX_PER_NODE } from '../../domain/guest-snapshots/schedule.ts';

export const HELP = `autosnap - Proxmox VE snapshots on a schedule, cv4pve-autosnap compatible

usage: autosnap [global options] [command] [command options]

commands:
  (none) | run        run the jobs of the config file (default: the intraday job)
  -clean | --clean    run only the cleaning of the jobs
  snap   --label L --keep N [--state] [--only-running] [--script HOOK]
  clean  --label L --keep N [--script HOOK]        (--keep 0 removes all of the label)
  status [--label L] [-o text|json|jsonpretty|markdown|html|unicode|unicodeAlt]
  plan   [--label L --keep N | --keep-daily N ... | --tiers SPEC | --policy intraday | --job NAME]
         plan --from-file FILE [policy options] [--at ISO-8601]   (offline)
  report --html FILE   write the plan as an HTML page to FILE (or report_file)
  (-o html on plan and status prints that page; run, snap and clean with --html FILE
   or report_file write the run's page to FILE, atomically, and its state to FILE.json)
  check  --label L --warn AGE --crit AGE [--only-running]
         monitoring plugin: AUTOSNAP OK|WARNING|CRITICAL|UNKNOWN, exit 0/1/2/3
  notify --test                send a test notification, say which way it went
  notify --failed-unit UNIT    report a failed systemd unit (autosnap-notify@.service)
  notify --backup-server       is the backup server left on? stale locks? (backup-watch.timer)

retention (instead of --keep N):
  --keep-last N --keep-hourly N --keep-daily N --keep-weekly N --keep-monthly N --keep-yearly N
  --tiers 1h=all,3h=30m,today=60m      --policy intraday

autosnap options (also keys of the config's [autosnap] section, without the dashes):
  --vmid SELECTOR (default @all)  --tags T1,T2  --job NAME[,NAME]
  --timestamp-format FMT (yyMMddHHmmss)  --interval MIN (${DEFAULT_INTERVAL_MIN}, intraday)
  --max-perc-storage N (95)  --max-per-node N (${DEFAULT_MAX_PER_NODE})
  --lock-wait S (60)  --lock-file F (${DEFAULT_LOCK_FILE})  --wait
  --hook-timeout S (${DEFAULT_HOOK_TIMEOUT})  --html FILE (config: report_file)
  --metrics-file F.prom   metrics for the node exporter's textfile collector (snap, clean, run)
  --marker autosnap|cv4pve-autosnap (the description of new snapshots)

called through a link named cv4pve-autosnap (install.sh --cv4pve-link): status prints
cv4pve-autosnap's table and JSON, new snapshots carry its description, every error exits 1

${globalHelp()}

notifications ([notify] in the config): a run with failures, or with guests skipped
  several runs in a row, is reported through PVE::Notify on a node (type=autosnap),
  else by mail to [notify] mailto through sendmail; 'autosnap notify --test' says which

exit codes: 0 all fine, 1 some guest failed, 2 usage or config error,
            3 cluster unreachable or authentication failed, 4 another run holds the lock
            (check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
`;
