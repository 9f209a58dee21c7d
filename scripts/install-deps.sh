#!/usr/bin/env bash
# Install the Debian packages the Sockerless test suites need.
# Idempotent: apt is only touched when something is missing (dpkg -s check),
# so repeated runs (every CI run, every test-env.sh) cost nothing.
# Usage: scripts/install-deps.sh [--check]
#   --check  only report: exit 1 (listing them) if any package is missing.
set -euo pipefail

PACKAGES=(
  docker-registry  # local OCI registry (distribution 2.x) the tests pull from
  busybox-static   # /bin/busybox, the source of the test busybox image
  docker.io        # reference Docker Engine (dockerd, containerd, runc, CLI)
  docker-compose   # compose client used by compatibility tests
  python3-docker   # docker-py client used by compatibility tests
  ca-certificates
  iproute2
  curl             # used by registry.sh / test-env.sh health checks
  bzip2            # builder tests: bzip2-compressed build contexts
  xz-utils         # builder tests: xz-compressed build contexts
  g++              # node-gyp: node-pty's native addon (the agent's terminals)
  make             # node-gyp
  python3          # node-gyp
  libc-bin         # ldd: the agent layer lists node's shared libraries
  tini             # /usr/bin/tini-static: the agent layer's PID 1 (reaps orphaned processes)
  openssl          # docker backend test: CA, server and client certificates for a TLS engine
  bsdutils         # script(1): docker run -it through a terminal in tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg -s succeeds for removed-but-configured packages too; check the status line.
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all packages already installed"
  exit 0
fi

if [ "${1:-}" = "--check" ]; then
  echo "install-deps: missing: ${missing[*]}" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: ERROR: missing packages (${missing[*]}) and not running as root" >&2
  exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg (another session) instead of failing on the lock.
APT_OPTS=(-o DPkg::Lock::Timeout=300)
apt-get "${APT_OPTS[@]}" update
apt-get "${APT_OPTS[@]}" install -y "${missing[@]}"

# Verify: apt-get can exit 0 while leaving a package half-configured.
for pkg in "${missing[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "install-deps: ERROR: $pkg is still not installed" >&2
    exit 1
  fi
done
echo "install-deps: done"
