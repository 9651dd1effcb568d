#!/usr/bin/env bash
# The recipe of the stand-in for docker.io/library/python:3.11-slim, built from Debian packages
# because no image registry is reachable: debootstrap of bookworm (Python 3.11) with pip, venv and
# CA certificates, made to behave like the official image where Dockerfiles rely on it (`python`
# and `pip` on PATH, pip allowed to install system-wide, `useradd`/`groupadd`, LANG=C.UTF-8).
#
#   python-base.sh rootfs MIRROR ROOTFS TARBALL   the root file system, as a tarball (as root)
#   python-base.sh import TARBALL IMAGE KEY        the tarball as IMAGE, labelled with the recipe KEY
#
# scripts/local-image runs it and keys its cache by this file's hash: any change here rebuilds the
# image, so everything that shapes the image lives in this file.
set -euo pipefail

if [ "$1" = import ]; then
  tarball=$2 image=$3 key=$4
  podman import --quiet \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL dev.ml-gen.recipe=$key" \
    --change 'LABEL dev.ml-gen.stand-in="python:3.11-slim built from Debian bookworm packages by ml-gen"' \
    "$tarball" "$image"
  exit 0
fi
[ "$1" = rootfs ] || { echo "python-base.sh: rootfs or import" >&2; exit 2; }
mirror=$2 rootfs=$3 tarball=$4

debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >&2

# pip refuses to touch the system Python of a Debian image (PEP 668); the official image has no such marker.
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
# The official image puts `python` and `pip` on PATH under /usr/local/bin.
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
# Slim like the official image: no package lists, no downloaded .debs, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
# The host's resolver and hostname are mounted in by the runtime; none baked into the image.
: >"$rootfs/etc/resolv.conf"
rm -f "$rootfs/etc/hostname"

# Reproducible member order and owners, so the same rootfs gives the same layer.
tar --numeric-owner --sort=name -C "$rootfs" -cf "$tarball" .
