#!/usr/bin/env bash
# Installs the autosnap executable, its tool links, systemd units and timers, the
# configuration, the logrotate file and the bash completions onto a Proxmox VE node, and
# removes them again. Needs nothing but bash and coreutils.
#
# Where the executable comes from (first that exists):
#   --bin PATH                 an explicit file
#   <dir of install.sh>/bin/autosnap    an unpacked release tarball
#   <dir of install.sh>/dist/autosnap   a source checkout after `npm run build`
#
# Every file it writes is recorded in /opt/autosnap/install-manifest, so --uninstall
# removes exactly what was installed (and directories only if it created them and they
# are empty), and restores what it replaced.
if [ -z "${BASH_VERSION:-}" ]; then
  echo "install.sh: run it with bash (bash install.sh ...), not sh" >&2
  exit 2
fi
set -euo pipefail
shopt -s nullglob

PROG=install.sh
PREFIX=/opt/autosnap
MANIFEST=$PREFIX/install-manifest
CONF_DIR=/etc/autosnap
CONF=$CONF_DIR/autosnap.conf
VZDUMP=/etc/vzdump.conf
VZDUMP_ORIG=/etc/vzdump.conf.autosnap-orig
# Links go to every tool a node runs. Not linked: the simulators (`sim`, `ontap-sim`:
# test tools, and `sim` is too generic a name for a system path) and above all `pvesh` /
# `sim-pvesh`, which would shadow the real pvesh. All of them stay reachable as
# `autosnap <tool>`. test/e2e/install.test.ts keeps this list in step with scripts/main.ts.
TOOLS=(autosnap pve-snapshot ontap-snapshot backup-hook backup-wakeup backup-sync)
# ontap-snapshot-snap@ is a template (one instance per label); shipped, never enabled here
BASE_UNITS=(autosnap.service autosnap.timer autosnap-clean.service autosnap-clean.timer autosnap-notify@.service
            ontap-snapshot-snap@.service ontap-snapshot-snap@.timer)
HOOK_UNITS=(backup-wakeup.service backup-wakeup.timer backup-wakeup-jit.service backup-wakeup-jit.timer backup-sync.service backup-sync.timer backup-watch.service backup-watch.timer)
BASE_TIMERS=(autosnap.timer autosnap-clean.timer)

usage() {
  cat <<'EOF'
usage: install.sh [--root DIR] [--dry-run] [--bin PATH] [--with-backup-hook] [--cv4pve-link] [--force]
       install.sh --uninstall [--purge] [--root DIR] [--dry-run]

  --root DIR          install into DIR instead of / (staging for packages and tests);
                      systemctl is never called then
  --dry-run           print what would change, change nothing
  --bin PATH          the executable to install (default: bin/autosnap, else
                      dist/autosnap, beside install.sh)
  --with-backup-hook  also set `script:` in /etc/vzdump.conf to the backup hook (the
                      original file is kept) and install backup-wakeup.timer
  --cv4pve-link       also link the tool as cv4pve-autosnap, so cron lines and scripts
                      written for cv4pve-autosnap 2.x run it unchanged (its status
                      table, exit code 1 for every error); a later install without
                      this option removes the link
  --force             replace files and a vzdump hook script not installed by autosnap
                      (each is kept and restored by --uninstall)
  --uninstall         remove everything the installation recorded, restore
                      /etc/vzdump.conf; /etc/autosnap/autosnap.conf is kept
  --purge             with --uninstall: remove the configuration as well
  --layout deb        (packaging) the file layout of the .deb: links in /usr/sbin, units
                      in /usr/lib/systemd/system, no configuration, manifest or vzdump edit
EOF
}

die() {
  echo "$PROG: $1" >&2
  exit "${2:-2}"
}

ROOT=/
DRY=0
WITH_HOOK=0
CV4PVE_LINK=0
FORCE=0
UNINSTALL=0
PURGE=0
LAYOUT=local
BIN_SRC=
while [ $# -gt 0 ]; do
  case $1 in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --bin) [ $# -ge 2 ] || die "--bin needs a file"; BIN_SRC=$2; shift 2 ;;
    --bin=*) BIN_SRC=${1#--bin=}; shift ;;
    --layout) [ $# -ge 2 ] || die "--layout needs local or deb"; LAYOUT=$2; shift 2 ;;
    --layout=*) LAYOUT=${1#--layout=}; shift ;;
    --dry-run|-n) DRY=1; shift ;;
    --with-backup-hook) WITH_HOOK=1; shift ;;
    --cv4pve-link) CV4PVE_LINK=1; shift ;;
    --force) FORCE=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$ROOT" ] || die "--root needs a directory"
case $LAYOUT in local|deb) ;; *) die "unknown layout '$LAYOUT' (local or deb)" ;; esac
[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge only goes with --uninstall"
if [ "$UNINSTALL" = 1 ]; then
  [ "$WITH_HOOK" = 0 ] || die "--with-backup-hook does not go with --uninstall (it restores /etc/vzdump.conf anyway)"
  [ "$CV4PVE_LINK" = 0 ] || die "--cv4pve-link does not go with --uninstall (the link is removed anyway)"
  [ -z "$BIN_SRC" ] || die "--bin does not go with --uninstall"
  [ "$LAYOUT" = local ] || die "--layout deb is for staging a package; dpkg removes it"
fi
if [ "$LAYOUT" = deb ]; then
  [ "$ROOT" != / ] || die "--layout deb only stages into a --root"
  [ "$WITH_HOOK" = 0 ] || die "--with-backup-hook does not go with --layout deb (the package never edits /etc/vzdump.conf)"
  # the package never takes the name of another vendor's command; docs/autosnap.md says
  # how an admin adds the link in /usr/local/sbin
  [ "$CV4PVE_LINK" = 0 ] || die "--cv4pve-link does not go with --layout deb (see docs/autosnap.md)"
fi
ROOT=${ROOT%/}
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd -P)
  [ "$ROOT" != / ] || ROOT=
fi
LIVE=0
[ -n "$ROOT" ] || LIVE=1

if [ "$LAYOUT" = deb ]; then
  SBIN_DIR=/usr/sbin
  UNIT_DIR=/usr/lib/systemd/system
  COMPL_DIR=/usr/share/bash-completion/completions
  MAN_DIR=/usr/share/man/man8
else
  SBIN_DIR=/usr/local/sbin
  UNIT_DIR=/etc/systemd/system
  # bash-completion looks here for /usr/local commands (XDG_DATA_DIRS default)
  COMPL_DIR=/usr/local/share/bash-completion/completions
  MAN_DIR=/usr/local/share/man/man8
fi
# PVE's notification templates (pve-manager's templates/default): the bundle's pair is put
# there on a node, so PVE::Notify finds the template named `autosnap`
PVE_TEMPLATE_DIR=/usr/share/pve-manager/templates/default
HOOK_PATH=$SBIN_DIR/backup-hook

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# ---------------------------------------------------------------------------------------
# Bookkeeping: what this run did, and what the manifest says was installed.
CHANGES=0
declare -a NEW_MANIFEST=()
declare -A OLD_KIND=()   # path -> kind from the manifest of an earlier run
declare -a OLD_ORDER=()
declare -A OLD_EXTRA=()

say() { printf '  %-10s %s\n' "$1" "$2"; }
# what a dry run says for each verb of a real one
declare -A WOULD=([installed]=install [updated]=update [chmod]=chmod [linked]=link [created]=create
  [edited]=edit [removed]=remove [restored]=restore ["set aside"]="set aside" [wrote]=write)
change() {
  CHANGES=$((CHANGES + 1))
  if [ "$DRY" = 1 ]; then say "${WOULD[$1]:-$1}" "$2"; else say "$1" "$2"; fi
}
record() { NEW_MANIFEST+=("$1"$'\t'"$2${3:+$'\t'$3}"); }

read_manifest() {
  local f=$ROOT$MANIFEST kind path extra
  [ -f "$f" ] || return 0
  while IFS=$'\t' read -r kind path extra || [ -n "$kind" ]; do
    case $kind in ''|'#'*) continue ;; esac
    OLD_KIND[$path]=$kind
    OLD_EXTRA[$path]=$extra
    OLD_ORDER+=("$path")
  done <"$f"
}

same_content() { # a b: byte-for-byte equal (sha256sum is in coreutils, cmp is not)
  [ -f "$1" ] && [ -f "$2" ] || return 1
  local a b
  a=$(sha256sum <"$1") && b=$(sha256sum <"$2") && [ "$a" = "$b" ]
}

file_mode() { stat -c %a "$1"; }

# mkdir -p, recording every directory it creates (so uninstall can remove exactly those)
ensure_dir() {
  local dir=$1 mode=${2:-755} missing=() d=$1
  while [ -n "$d" ] && [ "$d" != / ] && [ ! -d "$ROOT$d" ]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do
    if [ "$DRY" = 0 ]; then
      mkdir -m "$([ "$d" = "$dir" ] && echo "$mode" || echo 755)" "$ROOT$d"
    fi
    # only directories of our own namespace are worth a line; the rest are staging noise
    case $d in "$PREFIX"*|"$CONF_DIR"*) change created "$d/" ;; esac
  done
  for d in "${missing[@]}"; do record dir "$d"; done
  # autosnap's own directories are its own even when an earlier installation left them
  # (emptied, or holding a kept configuration); they go when they are empty again
  case $dir in "$PREFIX"*|"$CONF_DIR") record dir "$dir" ;; esac
}

# A path is ours when the manifest lists it or it already has exactly our content.
# Anything else in the way is refused (or, with --force, kept aside and restored later).
CONFLICTS=()
check_free() { # path [source file] [link target]
  local p=$1 src=${2:-} target=${3:-$PREFIX/bin/autosnap}
  [ -e "$ROOT$p" ] || [ -L "$ROOT$p" ] || return 0
  [ -z "${OLD_KIND[$p]:-}" ] || return 0
  if [ -n "$src" ] && [ ! -L "$ROOT$p" ] && same_content "$src" "$ROOT$p"; then return 0; fi
  if [ -z "$src" ] && [ -L "$ROOT$p" ] && [ "$(readlink "$ROOT$p")" = "$target" ]; then return 0; fi
  CONFLICTS+=("$p")
}

set_aside() { # a foreign file at path: keep it as path.autosnap-orig (restored on uninstall)
  local p=$1
  [ -e "$ROOT$p" ] || [ -L "$ROOT$p" ] || return 0
  [ -z "${OLD_KIND[$p]:-}" ] || return 0
  if [ "$DRY" = 0 ]; then mv -f "$ROOT$p" "$ROOT$p.autosnap-orig"; fi
  change "set aside" "$p (kept as $p.autosnap-orig)"
  record orig "$p.autosnap-orig" "$p"
}

# install a regular file atomically (a running executable keeps its old inode)
sha_of() { local sum _; read -r sum _ < <(sha256sum <"$1"); printf '%s' "$sum"; }

put_file() { # src dest mode
  local src=$1 dest=$2 mode=$3 sum=
  # files under /etc are the admin's to edit: the manifest keeps what was installed
  case $dest in /etc/*) sum=$(sha_of "$src") ;; esac
  if [ -f "$ROOT$dest" ] && [ ! -L "$ROOT$dest" ] && same_content "$src" "$ROOT$dest"; then
    if [ "$(file_mode "$ROOT$dest")" != "$mode" ]; then
      [ "$DRY" = 1 ] || chmod "$mode" "$ROOT$dest"
      change chmod "$dest ($mode)"
    fi
  elif [ -n "$sum" ] && [ "${OLD_KIND[$dest]:-}" = file ] && [ -n "${OLD_EXTRA[$dest]:-}" ] &&
    [ -f "$ROOT$dest" ] && [ "$(sha_of "$ROOT$dest")" != "${OLD_EXTRA[$dest]}" ]; then
    # changed by the admin since it was installed: theirs stays, ours goes beside it
    # (like dpkg's conffiles); keep the old sum so the next run still sees the change
    say kept "$dest (changed since it was installed; the new version is $dest.autosnap-new)"
    put_file "$src" "$dest.autosnap-new" "$mode"
    record file "$dest" "${OLD_EXTRA[$dest]}"
    return 0
  else
    local verb=installed
    { [ -e "$ROOT$dest" ] || [ -L "$ROOT$dest" ]; } && verb=updated
    [ "$verb" = installed ] || [ -n "${OLD_KIND[$dest]:-}" ] || set_aside "$dest"
    if [ "$DRY" = 0 ]; then
      local tmp
      tmp=$(mktemp "$ROOT$dest.XXXXXX")
      cp "$src" "$tmp"
      chmod "$mode" "$tmp"
      mv -f "$tmp" "$ROOT$dest"
    fi
    change "$verb" "$dest"
    UPDATED_PATHS+=("$dest")
  fi
  record file "$dest" "$sum"
}
UPDATED_PATHS=()

put_link() { # target link
  local target=$1 link=$2
  if [ -L "$ROOT$link" ] && [ "$(readlink "$ROOT$link")" = "$target" ]; then
    :
  else
    [ -n "${OLD_KIND[$link]:-}" ] || set_aside "$link"
    [ "$DRY" = 1 ] || ln -sfn "$target" "$ROOT$link"
    change linked "$link -> $target"
  fi
  record link "$link"
}

# ---------------------------------------------------------------------------------------
# /etc/vzdump.conf: pure bash line editing. vzdump reads `key: value` lines at column 0
# and skips lines starting with '#'.
VZ_LINES=()
VZ_TRAILING_NL=1
vz_read() { # file -> VZ_LINES, VZ_TRAILING_NL
  VZ_LINES=()
  VZ_TRAILING_NL=1
  [ -f "$1" ] || return 0
  mapfile -t VZ_LINES <"$1"
  if [ -s "$1" ] && [ -n "$(tail -c1 "$1")" ]; then VZ_TRAILING_NL=0; fi
}
vz_write() { # file: VZ_LINES -> file, atomically, keeping the mode of the file it replaces
  local f=$1 tmp i n=${#VZ_LINES[@]}
  tmp=$(mktemp "$f.XXXXXX")
  for ((i = 0; i < n; i++)); do
    if [ $i -eq $((n - 1)) ] && [ "$VZ_TRAILING_NL" = 0 ]; then
      printf '%s' "${VZ_LINES[$i]}" >>"$tmp"
    else
      printf '%s\n' "${VZ_LINES[$i]}" >>"$tmp"
    fi
  done
  if [ -e "$f" ]; then chmod "$(file_mode "$f")" "$tmp"; else chmod 644 "$tmp"; fi
  mv -f "$tmp" "$f"
}
vz_script_of() { # line -> prints the script value, fails when the line sets no script
  local re='^script:[[:space:]]*(.*[^[:space:]])[[:space:]]*$'
  [[ $1 =~ $re ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}
# A script line is ours when it names our hook link, or any link that resolves to our
# executable and is called backup-hook (the admin may have typed another path to it).
vz_is_ours() {
  local v=$1
  [ "$v" = "$HOOK_PATH" ] && return 0
  [ "$(basename "$v")" = backup-hook ] && [ -L "$ROOT$v" ] && [ "$(readlink "$ROOT$v")" = "$PREFIX/bin/autosnap" ]
}
# Index of the first active script line in VZ_LINES (-1: none), its value in VZ_VALUE.
VZ_INDEX=-1
VZ_VALUE=
vz_find() {
  local i v
  VZ_INDEX=-1
  VZ_VALUE=
  for i in "${!VZ_LINES[@]}"; do
    if v=$(vz_script_of "${VZ_LINES[$i]}"); then VZ_INDEX=$i; VZ_VALUE=$v; return 0; fi
  done
}
# The edit, applied to VZ_LINES: replace the (foreign) script line, or append ours.
vz_apply() {
  vz_find
  if [ "$VZ_INDEX" -ge 0 ]; then
    VZ_LINES[VZ_INDEX]="script: $HOOK_PATH"
  else
    VZ_LINES+=("script: $HOOK_PATH")
    VZ_TRAILING_NL=1
  fi
}

vzdump_install() {
  local f=$ROOT$VZDUMP
  vz_read "$f"
  vz_find
  if [ "$VZ_INDEX" -ge 0 ] && vz_is_ours "$VZ_VALUE"; then
    record_vzdump
    return 0
  fi
  if [ "$VZ_INDEX" -ge 0 ] && [ "$FORCE" = 0 ]; then
    die "$VZDUMP already runs the hook script '$VZ_VALUE'; not replacing it (--force replaces it, keeping the original file as $VZDUMP_ORIG)"
  fi
  local existed=0
  [ ! -f "$f" ] || existed=1
  if [ "$DRY" = 0 ]; then
    if [ "$existed" = 1 ] && [ ! -e "$ROOT$VZDUMP_ORIG" ]; then cp -p "$f" "$ROOT$VZDUMP_ORIG"; fi
    vz_apply
    vz_write "$f"
  fi
  if [ "$VZ_INDEX" -ge 0 ]; then
    change edited "$VZDUMP (script: $HOOK_PATH replaces '$VZ_VALUE'; original kept as $VZDUMP_ORIG)"
  elif [ "$existed" = 1 ]; then
    change edited "$VZDUMP (script: $HOOK_PATH; original kept as $VZDUMP_ORIG)"
  else
    change created "$VZDUMP (script: $HOOK_PATH)"
  fi
  record_vzdump
}
record_vzdump() {
  # the manifest remembers whether there was an original to restore
  if [ -n "${OLD_KIND[$VZDUMP]:-}" ]; then
    record "${OLD_KIND[$VZDUMP]}" "$VZDUMP" "${OLD_EXTRA[$VZDUMP]}"
  elif [ -e "$ROOT$VZDUMP_ORIG" ] || { [ "$DRY" = 1 ] && [ -f "$ROOT$VZDUMP" ]; }; then
    record vzdump "$VZDUMP" "$VZDUMP_ORIG"
  else
    record vzdump-created "$VZDUMP"
  fi
}

vzdump_uninstall() { # kind extra
  local kind=$1 orig=$2 f=$ROOT$VZDUMP
  [ -f "$f" ] || return 0
  vz_read "$f"
  vz_find
  if [ "$kind" = vzdump ] && [ -f "$ROOT$orig" ]; then
    # untouched since we edited it: put the original back, byte for byte
    local cur=("${VZ_LINES[@]}") cur_nl=$VZ_TRAILING_NL expect_same=1
    vz_read "$ROOT$orig"
    vz_apply
    if [ "${#cur[@]}" -ne "${#VZ_LINES[@]}" ] || [ "$cur_nl" != "$VZ_TRAILING_NL" ]; then expect_same=0; fi
    if [ "$expect_same" = 1 ]; then
      local i
      for i in "${!cur[@]}"; do [ "${cur[$i]}" = "${VZ_LINES[$i]}" ] || { expect_same=0; break; }; done
    fi
    if [ "$expect_same" = 1 ]; then
      [ "$DRY" = 1 ] || mv -f "$ROOT$orig" "$f"
      change restored "$VZDUMP (from $orig)"
      return 0
    fi
    # edited since: take out only our line (putting back a script line we replaced)
    local old_line=
    vz_read "$ROOT$orig"
    vz_find
    [ "$VZ_INDEX" -lt 0 ] || old_line=${VZ_LINES[$VZ_INDEX]}
    VZ_LINES=("${cur[@]}")
    VZ_TRAILING_NL=$cur_nl
    vz_remove_ours "$old_line"
    change edited "$VZDUMP (hook line removed; it was changed since the installation, so $orig is kept for you to compare)"
    return 0
  fi
  if [ "$kind" = vzdump-created ] && [ "${#VZ_LINES[@]}" -eq 1 ] && [ "$VZ_INDEX" -eq 0 ] && vz_is_ours "$VZ_VALUE"; then
    [ "$DRY" = 1 ] || rm -f "$f"
    change removed "$VZDUMP (created by the installation)"
    return 0
  fi
  if [ "$VZ_INDEX" -ge 0 ] && vz_is_ours "$VZ_VALUE"; then
    vz_remove_ours ""
    change edited "$VZDUMP (hook line removed)"
  fi
}
vz_remove_ours() { # replacement line or "" to delete
  local i out=() v
  for i in "${!VZ_LINES[@]}"; do
    if v=$(vz_script_of "${VZ_LINES[$i]}") && vz_is_ours "$v"; then
      [ -z "$1" ] || out+=("$1")
    else
      out+=("${VZ_LINES[$i]}")
    fi
  done
  VZ_LINES=("${out[@]}")
  [ "$DRY" = 1 ] || vz_write "$ROOT$VZDUMP"
}

# ---------------------------------------------------------------------------------------
systemd_live() { [ "$LIVE" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

refuse_if_packaged() {
  [ "$LIVE" = 1 ] || return 0
  command -v dpkg-query >/dev/null || return 0
  local st
  st=$(dpkg-query -W -f='${Status}' autosnap 2>/dev/null || true)
  case $st in
    *" installed") die "autosnap is installed as a Debian package here; use apt (install/upgrade/remove) instead of install.sh" ;;
  esac
}

need_root() {
  [ "$LIVE" = 1 ] && [ "$DRY" = 0 ] && [ "$(id -u)" -ne 0 ] && die "writing to / needs root (or use --root DIR / --dry-run)"
  return 0
}

write_manifest() {
  [ "$DRY" = 0 ] || return 0
  local f=$ROOT$MANIFEST tmp
  tmp=$(mktemp "$f.XXXXXX")
  {
    echo "# written by install.sh; install.sh --uninstall removes exactly these. kind<TAB>path[<TAB>detail]"
    # sorted, so the same installation always gives the same file (uninstall orders by kind)
    printf '%s\n' "${NEW_MANIFEST[@]}" | LC_ALL=C sort -u
  } >"$tmp"
  chmod 644 "$tmp"
  # bookkeeping only: rewritten when its content changes, so a run that changes nothing
  # leaves even the manifest's timestamp alone
  if same_content "$tmp" "$f"; then rm -f "$tmp"; else mv -f "$tmp" "$f"; fi
}

# ---------------------------------------------------------------------------------------
do_install() {
  local bin=$BIN_SRC
  if [ -z "$bin" ]; then
    if [ -f "$HERE/bin/autosnap" ]; then bin=$HERE/bin/autosnap
    elif [ -f "$HERE/dist/autosnap" ]; then bin=$HERE/dist/autosnap
    else die "no executable: neither $HERE/bin/autosnap nor $HERE/dist/autosnap exists (npm run build, or --bin PATH)"
    fi
  fi
  [ -f "$bin" ] || die "--bin $bin: no such file"
  [ -x "$bin" ] || die "$bin is not executable"
  local src_units=$HERE/systemd example=$HERE/etc/autosnap.conf.example u t
  for u in "${BASE_UNITS[@]}" "${HOOK_UNITS[@]}"; do
    [ -f "$src_units/$u" ] || die "missing $src_units/$u beside install.sh"
  done
  [ -f "$example" ] || die "missing $example beside install.sh"

  read_manifest
  # the hook stays part of an installation that has it, so a plain re-run (an upgrade)
  # keeps it up to date instead of silently dropping it
  if [ "$LAYOUT" = local ] && [ -n "${OLD_KIND[$VZDUMP]:-}" ]; then WITH_HOOK=1; fi
  local units=("${BASE_UNITS[@]}")
  if [ "$WITH_HOOK" = 1 ] || [ "$LAYOUT" = deb ]; then units+=("${HOOK_UNITS[@]}"); fi

  local logrotate=$HERE/etc/logrotate.d/autosnap-backup
  # one completion script serves every tool: bash-completion loads completions/<command>
  # on first use, so the file is installed once and linked under each tool's name
  local completion=$HERE/completions/autosnap.bash
  [ -f "$completion" ] || completion=
  local docs=()
  [ -d "$HERE/docs" ] && docs=("$HERE"/docs/*.md)

  # refuse before changing anything
  check_free "$PREFIX/bin/autosnap" "$bin"
  for t in "${TOOLS[@]}"; do check_free "$SBIN_DIR/$t"; done
  [ "$CV4PVE_LINK" = 0 ] || check_free "$SBIN_DIR/cv4pve-autosnap"
  for u in "${units[@]}"; do check_free "$UNIT_DIR/$u" "$src_units/$u"; done
  [ ! -f "$logrotate" ] || check_free /etc/logrotate.d/autosnap-backup "$logrotate"
  if [ -n "$completion" ]; then
    check_free "$COMPL_DIR/autosnap" "$completion"
    for t in "${TOOLS[@]}"; do [ "$t" = autosnap ] || check_free "$COMPL_DIR/$t" "" autosnap; done
  fi
  if [ "${#CONFLICTS[@]}" -gt 0 ] && [ "$FORCE" = 0 ]; then
    die "not installed by autosnap, refusing to replace (--force keeps each as <name>.autosnap-orig and replaces it): ${CONFLICTS[*]}"
  fi
  if [ "$WITH_HOOK" = 1 ] && [ "$FORCE" = 0 ] && [ -z "${OLD_KIND[$VZDUMP]:-}" ]; then
    vz_read "$ROOT$VZDUMP"
    vz_find
    if [ "$VZ_INDEX" -ge 0 ] && ! vz_is_ours "$VZ_VALUE"; then
      die "$VZDUMP already runs the hook script '$VZ_VALUE'; not replacing it (--force replaces it, keeping the original file as $VZDUMP_ORIG)"
    fi
  fi

  echo "autosnap: installing into ${ROOT:-/} (executable $bin)"
  [ "$DRY" = 0 ] || echo "  (dry run: nothing is written)"

  ensure_dir "$PREFIX/bin"
  put_file "$bin" "$PREFIX/bin/autosnap" 755
  ensure_dir "$PREFIX/share"
  put_file "$example" "$PREFIX/share/autosnap.conf.example" 644
  local d
  [ "${#docs[@]}" -eq 0 ] || ensure_dir "$PREFIX/share/doc"
  for d in "${docs[@]}"; do put_file "$d" "$PREFIX/share/doc/$(basename "$d")" 644; done
  if [ "$LAYOUT" = local ]; then put_file "$HERE/install.sh" "$PREFIX/share/install.sh" 755; fi

  # man pages: made from the tools' --help by the build (dist/man), or beside install.sh
  # in the release tarball (man/); compressed by the build, as Debian policy wants them
  local man_src= m
  if [ -d "$HERE/man" ]; then man_src=$HERE/man; elif [ -d "$HERE/dist/man" ]; then man_src=$HERE/dist/man; fi
  if [ -n "$man_src" ] && compgen -G "$man_src/*.8.gz" >/dev/null; then
    ensure_dir "$MAN_DIR"
    for m in "$man_src"/*.8.gz; do put_file "$m" "$MAN_DIR/$(basename "$m")" 644; done
  fi
  # the notification templates: kept under share/ in every layout, and put where PVE looks
  # for them when this is a node (a package's postinst does the same)
  local tpl
  if [ -d "$HERE/etc/pve-templates" ]; then
    ensure_dir "$PREFIX/share/pve-templates"
    for tpl in "$HERE"/etc/pve-templates/*.hbs; do put_file "$tpl" "$PREFIX/share/pve-templates/$(basename "$tpl")" 644; done
    if [ "$LAYOUT" = local ] && [ -d "$ROOT$PVE_TEMPLATE_DIR" ]; then
      for tpl in "$HERE"/etc/pve-templates/*.hbs; do put_file "$tpl" "$PVE_TEMPLATE_DIR/$(basename "$tpl")" 644; done
    fi
  fi

  ensure_dir "$SBIN_DIR"
  for t in "${TOOLS[@]}"; do put_link "$PREFIX/bin/autosnap" "$SBIN_DIR/$t"; done
  [ "$CV4PVE_LINK" = 0 ] || put_link "$PREFIX/bin/autosnap" "$SBIN_DIR/cv4pve-autosnap"

  ensure_dir "$UNIT_DIR"
  local units_changed=0 before=${#UPDATED_PATHS[@]}
  for u in "${units[@]}"; do put_file "$src_units/$u" "$UNIT_DIR/$u" 644; done
  [ "${#UPDATED_PATHS[@]}" = "$before" ] || units_changed=1

  if [ -f "$logrotate" ]; then
    ensure_dir /etc/logrotate.d
    put_file "$logrotate" /etc/logrotate.d/autosnap-backup 644
  fi
  if [ -n "$completion" ]; then
    ensure_dir "$COMPL_DIR"
    put_file "$completion" "$COMPL_DIR/autosnap" 644
    for t in "${TOOLS[@]}"; do [ "$t" = autosnap ] || put_link autosnap "$COMPL_DIR/$t"; done
  fi

  local conf_created=0
  if [ "$LAYOUT" = local ]; then
    ensure_dir "$CONF_DIR" 700
    # the configuration is autosnap's whether this run created it or not (a re-install
    # after an uninstall without --purge finds it), so --purge always removes it
    record conf "$CONF"
    if [ -e "$ROOT$CONF" ]; then
      local m
      m=$(file_mode "$ROOT$CONF")
      case $m in
        *00) ;;
        *) echo "  warning    $CONF has mode $m: autosnap refuses a file with secrets that others can read (chmod 600 $CONF)" ;;
      esac
    else
      if [ "$DRY" = 0 ]; then
        (umask 077 && cp "$example" "$ROOT$CONF")
        chmod 600 "$ROOT$CONF"
        # the node exporter is there: its textfile collector reads autosnap's metrics
        if [ -d "$ROOT/var/lib/prometheus/node-exporter" ]; then
          sed -i 's|^#metrics_file = /var/lib/prometheus/node-exporter/autosnap.prom$|metrics_file = /var/lib/prometheus/node-exporter/autosnap.prom|' "$ROOT$CONF"
        fi
      fi
      change created "$CONF (mode 0600, from the example: set the API token there)"
      conf_created=1
    fi
    if [ "$WITH_HOOK" = 1 ]; then vzdump_install; fi
  fi

  # entries of earlier runs this run did not touch: directories created then stay listed;
  # files and links an older release installed and this one no longer ships are removed,
  # or they would be left behind for good once they drop out of the manifest
  local p line
  declare -A now=()
  for line in "${NEW_MANIFEST[@]}"; do line=${line#*$'\t'}; now[${line%%$'\t'*}]=1; done
  for p in "${OLD_ORDER[@]}"; do
    case ${OLD_KIND[$p]} in
      dir|orig) record "${OLD_KIND[$p]}" "$p" "${OLD_EXTRA[$p]}" ;;
      file|link)
        if [ -z "${now[$p]:-}" ] && { [ -e "$ROOT$p" ] || [ -L "$ROOT$p" ]; }; then
          [ "$DRY" = 1 ] || rm -f "$ROOT$p"
          change removed "$p (no longer part of autosnap)"
          case $p in "$UNIT_DIR"/*) UPDATED_PATHS+=("$p"); units_changed=1 ;; esac
        fi ;;
    esac
  done
  if [ "$LAYOUT" = local ]; then
    [ -f "$ROOT$MANIFEST" ] || change wrote "$MANIFEST"
    write_manifest
  fi

  if [ "$units_changed" = 1 ] && systemd_live && [ "$DRY" = 0 ]; then
    systemctl daemon-reload
    say reloaded "systemd units"
    # a running timer re-arms with its new schedule; a stopped one stays stopped
    for u in "${UPDATED_PATHS[@]}"; do
      case $u in "$UNIT_DIR"/*.timer) systemctl try-restart "$(basename "$u")" || true ;; esac
    done
  fi

  if [ "$CHANGES" -eq 0 ]; then
    echo "nothing changed: the installation is up to date"
  elif [ "$DRY" = 1 ]; then
    echo "dry run: $CHANGES change(s) would be made, nothing was written"
  else
    echo "done: $CHANGES change(s)"
  fi
  if [ "$LAYOUT" = local ] && [ "$DRY" = 0 ] && [ "$conf_created" = 1 ]; then
    cat <<EOF
next: put the API token into $CONF (see $PREFIX/share/doc/operator.md), check it with
      autosnap status
      then enable the timers: systemctl enable --now ${BASE_TIMERS[*]}$([ "$WITH_HOOK" = 1 ] && echo " backup-wakeup.timer backup-watch.timer")
EOF
  fi
}

# ---------------------------------------------------------------------------------------
do_uninstall() {
  read_manifest
  if [ "${#OLD_ORDER[@]}" -eq 0 ]; then
    echo "nothing to uninstall: no $MANIFEST under ${ROOT:-/}"
    return 0
  fi
  echo "autosnap: uninstalling from ${ROOT:-/}"
  [ "$DRY" = 0 ] || echo "  (dry run: nothing is written)"
  local p kind units=()
  for p in "${OLD_ORDER[@]}"; do
    # a template (autosnap-notify@.service) is never enabled, and systemctl refuses its name
    case $p in *@.service) ;; "$UNIT_DIR"/*.timer|"$UNIT_DIR"/*.service) units+=("$(basename "$p")") ;; esac
  done
  # stop the schedule first, and take vzdump's hook away before the executable goes:
  # vzdump refuses to start at all while its `script:` does not exist
  if systemd_live && [ "$DRY" = 0 ] && [ "${#units[@]}" -gt 0 ]; then
    # a template (name@.unit) cannot be stopped by that name, which would fail the whole
    # call: its instances are stopped by pattern, and disabling the template removes theirs
    local plain=() tmpl=()
    for p in "${units[@]}"; do case $p in *@.*) tmpl+=("$p") ;; *) plain+=("$p") ;; esac; done
    [ "${#plain[@]}" -eq 0 ] || systemctl disable --now "${plain[@]}" >/dev/null 2>&1 || true
    if [ "${#tmpl[@]}" -gt 0 ]; then
      systemctl stop "${tmpl[@]/@./@*.}" >/dev/null 2>&1 || true
      systemctl disable "${tmpl[@]}" >/dev/null 2>&1 || true
    fi
    say stopped "${units[*]}"
  fi
  for p in "${OLD_ORDER[@]}"; do
    case ${OLD_KIND[$p]} in vzdump|vzdump-created) vzdump_uninstall "${OLD_KIND[$p]}" "${OLD_EXTRA[$p]}" ;; esac
  done
  for p in "${OLD_ORDER[@]}"; do
    kind=${OLD_KIND[$p]}
    case $kind in
      file)
        if [ -f "$ROOT$p" ] || [ -L "$ROOT$p" ]; then [ "$DRY" = 1 ] || rm -f "$ROOT$p"; change removed "$p"; fi ;;
      link)
        if [ -L "$ROOT$p" ]; then [ "$DRY" = 1 ] || rm -f "$ROOT$p"; change removed "$p"; fi ;;
      conf)
        if [ "$PURGE" = 1 ]; then
          if [ -e "$ROOT$p" ]; then [ "$DRY" = 1 ] || rm -f "$ROOT$p"; change removed "$p"; fi
        elif [ -e "$ROOT$p" ]; then
          say kept "$p (--purge removes it)"
        fi ;;
    esac
  done
  for p in "${OLD_ORDER[@]}"; do
    if [ "${OLD_KIND[$p]}" = orig ] && [ -e "$ROOT$p" ]; then
      local target=${OLD_EXTRA[$p]}
      if [ -e "$ROOT$target" ] || [ -L "$ROOT$target" ]; then
        say kept "$p (something new is at $target)"
      else
        [ "$DRY" = 1 ] || mv "$ROOT$p" "$ROOT$target"
        change restored "$target (from $p)"
      fi
    fi
  done
  if [ "$DRY" = 0 ]; then rm -f "$ROOT$MANIFEST"; fi
  change removed "$MANIFEST"
  # directories last, deepest first, only those the installation created and only empty
  local dirs=()
  for p in "${OLD_ORDER[@]}"; do [ "${OLD_KIND[$p]}" != dir ] || dirs+=("$p"); done
  # reverse order of names puts every directory before its parent
  [ "${#dirs[@]}" -eq 0 ] || mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | sort -r)
  for p in "${dirs[@]}"; do
    [ -d "$ROOT$p" ] || continue
    if [ "$DRY" = 1 ]; then
      case $p in "$PREFIX"*|"$CONF_DIR"*) say remove "$p/ (if empty)" ;; esac
    elif rmdir "$ROOT$p" 2>/dev/null; then
      case $p in "$PREFIX"*|"$CONF_DIR"*) change removed "$p/" ;; esac
    fi
  done
  if systemd_live && [ "$DRY" = 0 ]; then systemctl daemon-reload; fi
  if [ "$DRY" = 1 ]; then
    echo "dry run: $CHANGES change(s) would be made, nothing was written"
  else
    echo "done: $CHANGES change(s)"
  fi
}

refuse_if_packaged
need_root
if [ "$UNINSTALL" = 1 ]; then do_uninstall; else do_install; fi
