#!/usr/bin/env bash
# Builds the Debian package dist/autosnap_<version>_<arch>.deb and the release tarball
# dist/autosnap-<version>-linux-<arch>.tar.gz from a built executable (npm run build).
#
# The package's files are staged by install.sh itself (--layout deb), so the package and
# an install.sh installation cannot drift apart: same executable path, same units, same
# links (in /usr/sbin instead of /usr/local/sbin, units in /usr/lib/systemd/system
# instead of /etc/systemd/system, as Debian policy wants for packaged files).
#
# usage: packaging/build-deb.sh [--bin PATH] [--out DIR] [--compress xz|zstd|gzip|none] [--no-tarball]
#   --compress none  (tests) an uncompressed .deb and a plain .tar: seconds instead of minutes
set -euo pipefail

die() { echo "build-deb.sh: $1" >&2; exit 2; }

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BIN=$TOP/dist/autosnap
OUT=$TOP/dist
COMPRESS=xz
TARBALL=1
while [ $# -gt 0 ]; do
  case $1 in
    --bin) [ $# -ge 2 ] || die "--bin needs a file"; BIN=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --compress) [ $# -ge 2 ] || die "--compress needs xz, zstd, gzip or none"; COMPRESS=$2; shift 2 ;;
    --no-tarball) TARBALL=0; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | cut -c3-; exit 0 ;;
    *) die "unknown option '$1'" ;;
  esac
done
case $COMPRESS in xz|zstd|gzip|none) ;; *) die "unknown compression '$COMPRESS' (xz, zstd, gzip or none)" ;; esac
[ -x "$BIN" ] || die "no executable at $BIN (npm run build first, or --bin PATH)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)

re='"version"[[:space:]]*:[[:space:]]*"([^"]+)"'
[[ $(<"$TOP/package.json") =~ $re ]] || die "no version in package.json"
VERSION=${BASH_REMATCH[1]}
case $(uname -m) in
  x86_64) ARCH=amd64 ;;
  aarch64) ARCH=arm64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac
MAINTAINER="${DEBFULLNAME:-autosnap maintainers} <${DEBEMAIL:-autosnap@example.org}>"
# a reproducible date: the last commit's, unless SOURCE_DATE_EPOCH says otherwise
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$TOP" log -1 --format=%ct 2>/dev/null || date +%s)}
DATE=$(LC_ALL=C date -R -u -d "@$EPOCH")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
mkdir -m 755 "$STAGE"

"$TOP/install.sh" --root "$STAGE" --layout deb --bin "$BIN" >/dev/null

DOC=$STAGE/usr/share/doc/autosnap
install -d -m 755 "$DOC" "$STAGE/usr/share/lintian/overrides"
install -m 644 "$TOP/packaging/debian/copyright" "$DOC/copyright"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@MAINTAINER@/$MAINTAINER/g" -e "s/@DATE@/$DATE/g" \
  "$TOP/packaging/debian/changelog.in" | gzip -9n >"$DOC/changelog.gz"
chmod 644 "$DOC/changelog.gz"
install -m 644 "$TOP/packaging/debian/lintian-overrides" "$STAGE/usr/share/lintian/overrides/autosnap"

# the C library the executable links against, as dpkg-shlibdeps computes it
DEPENDS="libc6 (>= 2.34)"
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$WORK/shlibs/debian"
  printf 'Source: autosnap\n\nPackage: autosnap\nArchitecture: any\n' >"$WORK/shlibs/debian/control"
  dep=$(cd "$WORK/shlibs" && { dpkg-shlibdeps -O "$STAGE/opt/autosnap/bin/autosnap" 2>/dev/null || true; })
  dep=${dep#shlibs:Depends=}
  [ -z "$dep" ] || DEPENDS=$dep
fi

install -d -m 755 "$STAGE/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@MAINTAINER@/$MAINTAINER/" \
  -e "s/@SIZE@/$SIZE/" -e "s/@DEPENDS@/$DEPENDS/" "$TOP/packaging/debian/control.in" >"$STAGE/DEBIAN/control"
for s in preinst postinst prerm postrm; do install -m 755 "$TOP/packaging/debian/$s" "$STAGE/DEBIAN/$s"; done
# every file under /etc is a conffile: dpkg keeps the admin's edits on upgrade
(cd "$STAGE" && find etc -type f -printf '/%p\n' | sort) >"$STAGE/DEBIAN/conffiles"
[ -s "$STAGE/DEBIAN/conffiles" ] || rm -f "$STAGE/DEBIAN/conffiles"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums" "$STAGE/DEBIAN/conffiles" 2>/dev/null || true

DEB=$OUT/autosnap_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"

if [ "$TARBALL" = 1 ]; then
  # the release tarball: install.sh finds bin/autosnap beside itself
  NAME=autosnap-$VERSION
  REL=$WORK/$NAME
  install -d -m 755 "$REL/bin" "$REL/systemd" "$REL/etc"
  install -m 755 "$BIN" "$REL/bin/autosnap"
  install -m 755 "$TOP/install.sh" "$REL/install.sh"
  install -m 644 "$TOP"/systemd/*.service "$TOP"/systemd/*.timer "$REL/systemd/"
  install -m 644 "$TOP/etc/autosnap.conf.example" "$REL/etc/"
  [ ! -d "$TOP/etc/logrotate.d" ] || cp -r "$TOP/etc/logrotate.d" "$REL/etc/"
  [ ! -d "$TOP/etc/pve-templates" ] || cp -r "$TOP/etc/pve-templates" "$REL/etc/"
  # the man pages the build made from the tools' --help
  [ ! -d "$TOP/dist/man" ] || cp -r "$TOP/dist/man" "$REL/man"
  [ ! -d "$TOP/completions" ] || cp -r "$TOP/completions" "$REL/"
  [ ! -d "$TOP/docs" ] || cp -r "$TOP/docs" "$REL/"
  # for the backup server, not the node: the forced command of the nodes' SSH key
  [ ! -d "$TOP/hooks" ] || cp -r "$TOP/hooks" "$REL/"
  [ ! -f "$TOP/README.md" ] || install -m 644 "$TOP/README.md" "$REL/"
  TAR_OPTS=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$WORK")
  if [ "$COMPRESS" = none ]; then
    TGZ=$OUT/$NAME-linux-$ARCH.tar
    tar "${TAR_OPTS[@]}" -cf "$TGZ" "$NAME"
  else
    TGZ=$OUT/$NAME-linux-$ARCH.tar.gz
    tar "${TAR_OPTS[@]}" -cf - "$NAME" | gzip -9n >"$TGZ"
  fi
  echo "$TGZ"
fi
