#!/usr/bin/env bash
# Boot this machine's own systemd in a container over a throwaway copy of /.
# Run inside `unshare --mount --propagation private` (tests/system/conftest.py does): every
# mount below lives and dies with that namespace, and the host's / is never written.
#
#   boot.sh STAGE REPO PIP_CACHE KEY_FILE API_URL
#
# 1. a tmpfs holds the overlay's upper and work dirs; / is the read-only lower layer;
# 2. STAGE/root is copied over it (the test's units, masks, minimal target);
# 3. scripts/provision runs in a chroot of it, as when building a Pi's image (files only:
#    systemd is not running there); pip may reach the package index, with the host's cache;
# 4. systemd-nspawn boots it: its own PID 1, no network but loopback, the minimal target.
set -euo pipefail
stage="$1" repo="$2" pip_cache="$3" key_file="$4" api_url="$5"

top="$stage/mnt"
mkdir -p "$top"
mount -t tmpfs -o mode=0755,size=6G booth-system "$top"
mkdir "$top/upper" "$top/work" "$top/merged"
mount -t overlay booth-system -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/merged"
root="$top/merged"
cp -a "$stage/root/." "$root/"

for fs in proc sys dev; do mount --rbind "/$fs" "$root/$fs"; done
mkdir -p "$pip_cache" "$root/var/cache/booth-pip"
mount --bind "$pip_cache" "$root/var/cache/booth-pip"
echo "boot.sh: provisioning in a chroot from $repo"
chroot "$root" env PIP_CACHE_DIR=/var/cache/booth-pip PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$repo/scripts/provision" --api-url "$api_url" --booth-id system-test \
  --input-device boothmic --output-device boothspk --no-doctor < "$key_file"
umount -R "$root/proc" "$root/sys" "$root/dev" "$root/var/cache/booth-pip"

echo "boot.sh: booting"
exec systemd-nspawn -D "$root" --register=no --keep-unit --link-journal=no \
  --private-network --bind-ro="$repo" --console=pipe -b systemd.unit=booth-test.target
