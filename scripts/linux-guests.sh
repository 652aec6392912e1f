#!/usr/bin/env bash
# Downloads the Linux guests the page-walker tests boot (qemu-bridge/test/linux-guests.qemu.test.ts,
# bench/paging-walk.ts): Debian's newest linux-image-686 (32-bit paging with PSE) and
# linux-image-686-pae (PAE with NX) for i386 and linux-image-amd64 (4- and 5-level paging), each
# with an initramfs of Debian's busybox-static for its architecture and the /init in
# qemu-bridge/test/fixtures/linux-guest-init.sh. Versions come from apt-cache (each metapackage
# resolved to the image package it depends on), never from this file. Only vmlinuz and the built
# initramfs are kept, in a cache keyed by package version, so a second run downloads nothing.
# Writes the list the tests read, guests.tsv, into the cache. Called by scripts/setup.sh.
#
#   MMSCOPE_LINUX_GUESTS_CACHE   the cache folder (default ~/.cache/mmscope/linux-guests)
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."
init_script=$PWD/qemu-bridge/test/fixtures/linux-guest-init.sh
cache=${MMSCOPE_LINUX_GUESTS_CACHE:-$HOME/.cache/mmscope/linux-guests}

# guest name, Debian architecture, metapackage
guests=(
  "686 i386 linux-image-686"
  "686-pae i386 linux-image-686-pae"
  "amd64 amd64 linux-image-amd64"
)

fail() {
  echo "linux-guests: $*" >&2
  exit 1
}

for tool in apt-get apt-cache dpkg dpkg-deb cpio gzip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (the Linux guests come from Debian's archive with apt-get and are packed with cpio); install it and run this command again."
done

native=$(dpkg --print-architecture)
updated=0
apt_update() {
  ((updated)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    fail "apt's package lists are not current ($1); run: sudo apt-get update, then this command again."
  fi
  echo "linux-guests: apt-get update ($1)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$cache/apt-update.log" 2>&1 ||
    fail "apt-get update failed (Debian's archive cannot be reached? see $cache/apt-update.log); the Linux guest tests need it once to download their kernels: connect this machine to the archive and run this command again."
  updated=1
}

mkdir -p "$cache"
manifest=$cache/guests.tsv

# Nothing to do when the manifest was written from the same package lists, the same /init and the
# same version of this script, and its files are all there (apt-cache alone takes seconds).
fingerprint=$({
  dpkg --print-foreign-architectures
  stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null || true
  sha256sum "$init_script" "$self"
} | sha256sum | cut -c1-16)
if [[ -f $manifest ]] && [[ $(head -n1 "$manifest") == "# fingerprint $fingerprint" ]]; then
  complete=1
  while IFS=$'\t' read -r _ _ _ _ kernel initrd _; do
    [[ -f $kernel && -f $initrd ]] || complete=0
  done < <(grep -v '^#' "$manifest")
  if ((complete)); then
    echo "linux-guests: the Linux guests are in $cache"
    exit 0
  fi
fi

# i386 packages on an amd64 host need the foreign architecture (and its package lists).
needs_i386=0
for g in "${guests[@]}"; do [[ ${g#* } == i386* && $native != i386 ]] && needs_i386=1; done
if ((needs_i386)) && ! dpkg --print-foreign-architectures | grep -qx i386; then
  if [[ $(id -u) -ne 0 ]]; then
    fail "the i386 Linux guests need the i386 architecture in dpkg; run: sudo dpkg --add-architecture i386 && sudo apt-get update, then this command again."
  fi
  echo "linux-guests: dpkg --add-architecture i386"
  dpkg --add-architecture i386
  apt_update "the i386 architecture was added"
fi

# The candidate version of a package (empty when apt does not know it).
candidate() {
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# Sets `version` to the candidate of pkg:arch, updating the package lists once if apt lacks it.
resolve_version() {
  version=$(candidate "$1")
  if [[ -z $version ]]; then
    apt_update "apt knows no $1"
    version=$(candidate "$1")
  fi
  [[ -n $version ]] || fail "apt knows no package $1 even after apt-get update; check /etc/apt/sources.list (Debian's main archive) and run this command again."
}

# Sets `pkg` to the image package a metapackage (pkg:arch) depends on, e.g. linux-image-6.1.0-57-686.
image_package() {
  resolve_version "$1"
  pkg=$(apt-cache show --no-all-versions "$1" | sed -n 's/^Depends: //p' | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -m1 '^linux-image-' || true)
  [[ -n $pkg ]] || fail "the metapackage $1 depends on no linux-image package; Debian's archive changed its layout, update scripts/linux-guests.sh."
  pkg=${pkg%%:*}
}

# Downloads pkg:arch=version and extracts the one member `member` (a path in the package, may be
# a shell pattern) into `dest`. Retries after apt-get update when the archive no longer has it.
fetch_member() {
  local spec=$1 member=$2 dest=$3 scratch deb found
  scratch=$(mktemp -d "$cache/.download.XXXXXX")
  chmod 755 "$scratch" # apt's _apt user writes there
  if ! (cd "$scratch" && apt-get download -q "$spec" >download.log 2>&1); then
    apt_update "a download of $spec failed"
    if ! (cd "$scratch" && apt-get download -q "$spec" >download.log 2>&1); then
      cp "$scratch/download.log" "$cache/download.log"
      rm -rf "$scratch"
      fail "apt-get download $spec failed (Debian's archive cannot be reached? see $cache/download.log); the Linux guest tests need it once: connect this machine to the archive and run this command again."
    fi
  fi
  deb=$(find "$scratch" -maxdepth 1 -name '*.deb' | head -n1)
  mkdir -p "$scratch/x"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$scratch/x" --wildcards "./$member"
  found=$(find "$scratch/x" -path "$scratch/x/$member" -type f | head -n1)
  [[ -n $found ]] || fail "the package $spec has no $member."
  mv "$found" "$dest.tmp"
  mv "$dest.tmp" "$dest"
  rm -rf "$scratch"
}

init_hash=$(sha256sum "$init_script" | cut -c1-12)
lines=()
did=()
for g in "${guests[@]}"; do
  read -r name arch meta <<<"$g"
  qualified=$meta
  [[ $arch != "$native" ]] && qualified=$meta:$arch
  image_package "$qualified"
  spec=$pkg
  [[ $arch != "$native" ]] && spec=$pkg:$arch
  resolve_version "$spec"
  kernel_version=$version
  dir=$cache/$pkg/${version//:/%3a}
  kernel=$dir/vmlinuz
  if [[ ! -f $kernel ]]; then
    echo "linux-guests: downloading $spec $version"
    mkdir -p "$dir"
    fetch_member "$spec=$version" 'boot/vmlinuz-*' "$kernel"
    did+=("$pkg $version")
  fi

  bb_spec=busybox-static
  [[ $arch != "$native" ]] && bb_spec=busybox-static:$arch
  resolve_version "$bb_spec"
  bb_version=$version
  version=$kernel_version
  bb_dir=$cache/busybox-static-$arch/${bb_version//:/%3a}
  if [[ ! -f $bb_dir/busybox ]]; then
    echo "linux-guests: downloading $bb_spec $bb_version"
    mkdir -p "$bb_dir"
    fetch_member "$bb_spec=$bb_version" 'bin/busybox' "$bb_dir/busybox"
    chmod 755 "$bb_dir/busybox"
    did+=("busybox-static:$arch $bb_version")
  fi

  # The initramfs: busybox and /init, keyed by busybox version and the init script's hash.
  initrd=$bb_dir/initramfs-$init_hash.cpio.gz
  if [[ ! -f $initrd ]]; then
    root=$(mktemp -d "$cache/.initramfs.XXXXXX")
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
    cp "$bb_dir/busybox" "$root/bin/busybox"
    cp "$init_script" "$root/init"
    chmod 755 "$root/init" "$root/bin/busybox"
    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null --quiet -o -H newc -R 0:0) | gzip -9n >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$root"
    did+=("initramfs for $arch")
  fi
  lines+=("$name	$arch	$pkg	$version	$kernel	$initrd	$bb_version")
done

printf '%s\n' "# fingerprint $fingerprint" "# name	arch	package	version	kernel	initrd	busybox" "${lines[@]}" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"

# Versions the archive no longer offers as newest are removed, so the cache stays ~25 MB.
for old in "$cache"/*/*/; do
  old=${old%/}
  grep -qF "$old/" "$manifest" || { rm -rf "$old"; rmdir "$(dirname "$old")" 2>/dev/null || true; }
done
for old in "$cache"/*/*/initramfs-*.cpio.gz; do
  [[ -f $old ]] && ! grep -qF "$old" "$manifest" && rm -f "$old"
done
if ((${#did[@]} == 0)); then
  echo "linux-guests: the Linux guests are in $cache"
else
  echo "linux-guests: $(IFS=';'; echo "${did[*]}" | sed 's/;/, /g') in $cache"
fi
