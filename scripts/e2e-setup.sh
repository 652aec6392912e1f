#!/usr/bin/env bash
# Installs what the end-to-end test of the extension needs and cannot get from npm ci: Debian's
# chromium and ripgrep (plus the headers code-server's native modules build against), and
# code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) in a cache folder
# outside the repository. Never downloads a browser or a VS Code build: code-server comes from
# the npm registry, its ripgrep from Debian. Safe to run again; prints where code-server is.
#
#   MMSCOPE_E2E_CACHE   the cache folder (default ~/.cache/mmscope-e2e)
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
RIPGREP_CACHE_NAME=vscode-ripgrep-cache-1.15.11
RIPGREP_TARBALL=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

cache=${MMSCOPE_E2E_CACHE:-${HOME}/.cache/mmscope-e2e}
prefix=$cache/code-server-$CODE_SERVER_VERSION
bin=$prefix/node_modules/.bin/code-server

if [[ -x $bin && -x /usr/bin/chromium ]] && command -v rg >/dev/null 2>&1; then
  echo "e2e-setup: code-server $CODE_SERVER_VERSION is in $prefix"
  exit 0
fi

# System packages: chromium for the browser, ripgrep for code-server's search, krb5 and
# pkg-config for the kerberos module, a compiler and python3 for node-gyp.
apt_packages=(chromium ripgrep libkrb5-dev pkg-config build-essential python3)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "e2e-setup: missing system packages: ${missing[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "e2e-setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [[ ! -x $bin ]]; then
  echo "e2e-setup: installing code-server $CODE_SERVER_VERSION into $prefix (about 2 minutes)"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  # @vscode/ripgrep downloads rg unless it finds this tarball in $TMPDIR: give it Debian's.
  mkdir -p "$scratch/$RIPGREP_CACHE_NAME" "$scratch/rg"
  cp "$(command -v rg)" "$scratch/rg/rg"
  tar -czf "$scratch/$RIPGREP_CACHE_NAME/$RIPGREP_TARBALL" -C "$scratch/rg" rg
  mkdir -p "$prefix"
  [[ -f $prefix/package.json ]] || echo '{"name":"mmscope-e2e-code-server","private":true}' >"$prefix/package.json"
  # node-pty's postinstall runs `npx node-gyp` (yes), node-gyp uses Node's local headers
  # (nodedir), and as root the postinstall scripts need unsafe-perm.
  (
    cd "$prefix"
    TMPDIR=$scratch npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=${npm_config_nodedir:-/usr} \
      npm install --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION"
  )
  if [[ ! -x $bin ]]; then
    echo "e2e-setup: npm did not install code-server into $prefix; read the npm output above." >&2
    exit 1
  fi
fi
echo "e2e-setup: code-server $CODE_SERVER_VERSION is in $prefix"
