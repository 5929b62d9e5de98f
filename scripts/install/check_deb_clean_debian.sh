#!/usr/bin/env bash
# Installs a vitq .deb on a clean Debian 12 and runs it there: debootstrap makes a minimal
# bookworm root (from Debian's archive, about 2 minutes the first time; kept for reruns), apt
# installs the package with the dependencies its Depends line names, and the installed vitq shows
# its version and help, renders its man page, and quantizes a small model. Needs root.
# Usage: scripts/install/check_deb_clean_debian.sh VITQ.deb [ROOT_DIR]   (default /var/tmp/vitq-clean-bookworm)
set -euo pipefail
deb="$(realpath "$1")"
chroot_dir="${2:-/var/tmp/vitq-clean-bookworm}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
if [ ! -x "$chroot_dir/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase bookworm "$chroot_dir" http://deb.debian.org/debian >/dev/null
fi
mounted=()
cleanup() { for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for fs in proc sys dev; do
  mountpoint -q "$chroot_dir/$fs" || { mount --bind "/$fs" "$chroot_dir/$fs"; mounted+=("$chroot_dir/$fs"); }
done
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
cp "$deb" "$chroot_dir/tmp/vitq.deb"
cp "$root/tests/data/models/fmnist_vit_op17.onnx" "$chroot_dir/tmp/model.onnx"
cp "$root/data/fashion_mnist/calib_x.npy" "$chroot_dir/tmp/calib.npy"  # scripts/prepare_all.sh makes it
in_root() {
  chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}
in_root apt-get update -qq
# The package's own Depends, nothing else (man-db only to render the page).
in_root apt-get install -y -qq --no-install-recommends /tmp/vitq.deb man-db >/dev/null
echo "Depends: $(in_root dpkg-query -W -f='${Depends}' vitq)"
in_root vitq --version
in_root vitq quantize --help | sed -n '1,3p'  # sed reads to the end: no SIGPIPE for vitq
in_root sh -c 'MANWIDTH=80 man vitq 2>&1 | sed -e "s/.\x08//g" | sed -n "1,4p"'
in_root vitq quantize /tmp/model.onnx --data /tmp/calib.npy --calib-samples 64 -o /tmp/model-w8a8.onnx | sed -n '1,12p'
