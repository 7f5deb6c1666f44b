// `autosnap --help`. The full reference is docs/autosnap.md.
export const HELP = `autosnap - Proxmox VE snapshots on a schedule, cv4pve-autosnap compatible

usage: autosnap [global options] [command] [command options]

commands:
  (none) | run        run the jobs of the config file (default: the intraday job)
  -clean | --clean    run only the cleaning of the jobs
  snap   --label L --keep N [--state] [--only-running] [--script HOOK]
  clean  --label L --keep N [--script HOOK]        (--keep 0 removes all of the label)
  status [--label L] [-o text|json|jsonpretty|markdown|html]
  plan   [--label L --keep N | --keep-daily N ... | --tiers SPEC | --policy intraday | --job NAME]
         plan --from-file FILE [policy options] [--at ISO-8601]   (offline)

retention (instead of --keep N):
  --keep-last N --keep-hourly N --keep-daily N --keep-weekly N --keep-monthly N --keep-yearly N
  --tiers 1h=all,3h=30m,today=60m      --policy intraday      --tz ZONE

global options:
  --host H[:port],...  --api-token USER@REALM!ID[=SECRET]  --api-token-file F
  --username U@REALM --password file:PATH | --password-file F
  --fingerprint FP  --ca-file F  --insecure  --validate-certificate (no-op)
  --transport api|pvesh  --config FILE  --timeout S
  --vmid SELECTOR (default @all)  --timestamp-format FMT (yyMMddHHmmss)
  --max-perc-storage N (95)  --max-parallel N (${12})  --max-per-node N (${3})
  --lock-wait S (60)  --lock-file F (/run/autosnap/autosnap.lock)  --wait
  --hook-timeout S (300)  --tags T1,T2  --job NAME  --dry-run  --debug  --quiet
  @file.parm   read arguments from a file, one per line

exit codes: 0 all fine, 1 some guest failed, 2 usage or config error,
            3 cluster unreachable or authentication failed
`;
