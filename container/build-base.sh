#!/usr/bin/env bash
# Build the agent image's base from Debian packages, for machines that cannot pull images.
#
# Usage: build-base.sh [TAG] [-- ENGINE_COMMAND...]
#   TAG             default localhost/pynchy-base:bookworm
#   ENGINE_COMMAND  how to reach the container engine, default `podman`
#                   (for example: -- podman --remote --url unix:///run/podman/podman.sock)
# Environment: PYNCHY_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              PYNCHY_BASE_SUITE (default bookworm), TMPDIR (where the rootfs is built).
#
# debootstraps a minimal Debian with what the agent container needs (python3 without pip,
# git, ripgrep, procps, ca-certificates), then imports it as an image. Needs root; about a
# minute and 400 MB of temporary space.
set -euo pipefail

tag="localhost/pynchy-base:bookworm"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  tag="$1"
  shift
fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then
  shift
fi
if [ $# -eq 0 ]; then
  set -- podman
fi

suite="${PYNCHY_BASE_SUITE:-bookworm}"
mirror="${PYNCHY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3,ca-certificates,git,ripgrep,procps,bash,coreutils,grep,findutils,passwd"

say() { echo "build-base: $*" >&2; }

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
if [ "$(id -u)" -ne 0 ]; then
  say "debootstrap needs root; run: sudo $0 $tag"
  exit 77
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  say "debootstrap is not installed; run: apt-get install -y debootstrap (or scripts/setup-podman)"
  exit 78
fi

rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/pynchy-base.XXXXXX")"
cleanup() {
  # debootstrap may leave its mounts behind when it fails; never follow them while deleting.
  for mnt in dev/pts dev proc sys; do
    umount -l "$rootfs/$mnt" 2>/dev/null || true
  done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

say "debootstrap $suite from $mirror into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror"

# Leave out what belongs to the build machine or only takes space.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log "$rootfs"/tmp/*
: >"$rootfs/etc/resolv.conf"
echo localhost >"$rootfs/etc/hostname"

say "importing $tag"
tar --numeric-owner -C "$rootfs" -c . |
  "$@" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "pynchy base: debootstrap --variant=minbase $suite" \
    - "$tag"
say "built $tag"
