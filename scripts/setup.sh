#!/usr/bin/env bash
# Makes this machine able to build and test mmscope: installs the missing system
# packages with apt-get and the npm dependencies with `npm ci`. Safe to run again;
# prints one line when everything is already there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian package -> a command it provides, so a tool installed some other way counts too.
# grub-pc-bin, grub-common, xorriso and mtools: grub-mkrescue builds the GRUB ISOs (and hybrid
# disk images) the boot tests start; qemu-system-gui: QEMU's own window ("display": "window");
# cpio: the initramfs of the Linux guests (scripts/linux-guests.sh).
packages=(qemu-system-x86 gcc binutils make gdb chromium grub-pc-bin grub-common xorriso mtools qemu-system-gui cpio)
declare -A provides=(
  [qemu-system-x86]=qemu-system-i386
  [grub-pc-bin]=grub-pc-bin-has-no-command
  [grub-common]=grub-mkrescue
  [xorriso]=xorriso
  [mtools]=mformat
  [qemu-system-gui]=qemu-system-gui-has-no-command
  [gcc]=gcc
  [binutils]=ld
  [make]=make
  [gdb]=gdb
  [chromium]=chromium
  [cpio]=cpio
)

package_present() {
  local pkg=$1
  if command -v "${provides[$pkg]}" >/dev/null 2>&1; then
    return 0
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'
}

missing=()
for pkg in "${packages[@]}"; do
  if ! package_present "$pkg"; then
    missing+=("$pkg")
  fi
done

did=()
if ((${#missing[@]} > 0)); then
  install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with:  sudo apt-get update && sudo ${install_cmd[*]}" >&2
    echo "setup: then run this command again." >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing system packages (${missing[*]}) and apt-get is not available; install them with your package manager." >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  "${install_cmd[@]}"
  for pkg in "${missing[@]}"; do
    if ! package_present "$pkg"; then
      echo "setup: apt-get did not install $pkg (no ${provides[$pkg]} found); install it by hand and run this command again." >&2
      exit 1
    fi
  done
  did+=("installed ${missing[*]}")
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: Node.js 20 or newer (with npm) is required; install it and run this command again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "setup: Node.js $(node --version) is too old; mmscope needs Node.js 20 or newer." >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install; compare with the lock file.
# A node_modules that is a symlink is an install shared with another checkout (a git worktree):
# npm ci would empty the shared directory under everyone using it, so leave it alone.
stamp=node_modules/.package-lock.json
if [[ -L node_modules ]]; then
  if [[ ! -f $stamp ]]; then
    echo "setup: node_modules is a symlink to $(readlink node_modules) without an npm install; run npm ci where it points." >&2
    exit 1
  fi
elif [[ ! -d node_modules || ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
  touch "$stamp"
  did+=("ran npm ci")
fi

# The extension's end-to-end test (extension/test/e2e.test.ts) needs code-server, chromium and
# ripgrep: scripts/e2e-setup.sh installs them when they are missing (MMSCOPE_SKIP_E2E=1: not).
code_server=${MMSCOPE_E2E_CACHE:-$HOME/.cache/mmscope-e2e}/code-server-4.100.3/node_modules/.bin/code-server
if [[ ${MMSCOPE_SKIP_E2E:-} != 1 ]] && { [[ ! -x $code_server ]] || [[ ! -x /usr/bin/chromium ]] || ! command -v rg >/dev/null 2>&1; }; then
  bash scripts/e2e-setup.sh
  did+=("installed code-server and chromium for the e2e test")
fi

# The page-walker tests boot Debian's Linux kernels (qemu-bridge/test/linux-guests.qemu.test.ts):
# scripts/linux-guests.sh downloads them once into ~/.cache/mmscope/linux-guests.
# Its progress shows as it comes; only its "nothing to do" line is left out.
downloaded=$(mktemp)
bash scripts/linux-guests.sh | while IFS= read -r line; do
  [[ $line == 'linux-guests: the Linux guests are in '* ]] && continue
  echo "$line"
  echo "$line" >>"$downloaded"
done
[[ -s $downloaded ]] && did+=("downloaded the Linux guests")
rm -f "$downloaded"

if ((${#did[@]} == 0)); then
  echo "setup: system packages (${packages[*]}) and node_modules are present"
else
  echo "setup: done ($(IFS=';'; echo "${did[*]}" | sed 's/;/, /g'))"
fi
