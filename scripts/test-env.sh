#!/usr/bin/env bash
# Bring up everything the test suites need and export where it is:
#   1. Debian packages (scripts/install-deps.sh, only if something is missing)
#   2. the local registry (scripts/registry.sh start)
#   3. the test images (scripts/build-busybox-image.ts), if not in the registry
#   4. the reference Docker Engine (scripts/dockerd.sh start)
#
# Usage (bash):
#   source scripts/test-env.sh          # sets the variables in this shell;
#                                       # returns non-zero on failure
#   eval "$(bash scripts/test-env.sh)"  # stdout is only `export ...` lines;
#                                       # progress goes to stderr
# eval ignores the exit status of the $(...) it runs, so on failure stdout
# carries an `exit 1` instead: the eval'ing shell stops rather than running
# the tests without an environment.
#
# Any failure is fatal with a message: tests must never silently skip because
# the environment is missing.

_sockerless_test_env() (
  # Subshell body: set -e and exit stay contained even when sourced.
  set -euo pipefail
  scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  root="$(dirname "$scripts")"
  fail() { echo "test-env: ERROR: $*" >&2; exit 1; }

  # Everything but the final exports goes to stderr.
  exec 3>&1 1>&2

  if ! bash "$scripts/install-deps.sh" --check 2>/dev/null; then
    bash "$scripts/install-deps.sh" || fail "installing Debian packages failed"
  fi

  bash "$scripts/registry.sh" start || fail "could not start the test registry"
  registry="$(bash "$scripts/registry.sh" url)"

  # All three pushed references must exist; the build is deterministic, so
  # re-running it only re-uploads what is missing.
  accept="application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.index.v1+json"
  need_build=0
  for ref in busybox/manifests/latest busybox/manifests/multi hello-sh/manifests/latest; do
    code="$(curl -s -o /dev/null -w '%{http_code}' -I -H "Accept: $accept" "http://$registry/v2/$ref" || true)"
    [ "$code" = 200 ] || need_build=1
  done
  if [ "$need_build" = 1 ]; then
    [ -d "$root/node_modules/tsx" ] || fail "$root/node_modules/tsx missing (run npm ci)"
    (cd "$root" && node --import tsx scripts/build-busybox-image.ts --registry "$registry") ||
      fail "building/pushing the test images failed"
  else
    echo "test-env: test images already in $registry"
  fi

  bash "$scripts/dockerd.sh" start || fail "could not start the reference dockerd"

  echo "export SOCKERLESS_TEST_REGISTRY=$registry" >&3
  echo "export SOCKERLESS_REF_DOCKER_HOST=$(bash "$scripts/dockerd.sh" host)" >&3
  # the AWS SDK's notice that its 2027 releases need Node 22, once per process: noise in test logs
  echo "export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true" >&3
)

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: apply the exports to the caller's shell.
  if _sockerless_test_env_out="$(_sockerless_test_env)"; then
    eval "$_sockerless_test_env_out"
    echo "$_sockerless_test_env_out" >&2
    unset _sockerless_test_env_out
  else
    unset _sockerless_test_env_out
    echo "test-env: ERROR: test environment is NOT ready (see above)" >&2
    return 1
  fi
else
  set -euo pipefail
  _sockerless_test_env || {
    echo "test-env: ERROR: test environment is NOT ready (see above)" >&2
    echo 'echo "test-env: ERROR: test environment is NOT ready" >&2; exit 1'
    exit 1
  }
fi
