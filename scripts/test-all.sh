#!/usr/bin/env bash
# Every suite: start the test environment (registry with test images, reference Docker Engine),
# then unit and integration tests, the API coverage check, and the conformance run.
# A missing dependency fails here; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/test-env.sh)"
export SOCKERLESS_TEST_REGISTRY SOCKERLESS_REF_DOCKER_HOST
npm run test:unit
npm run test:integration
# every registered API route is exercised by a test, and docs/api-coverage.md is current
npm run api-coverage -- --check
# One scenario suite against the reference engine and Sockerless on every backend that runs here
# (docker in front of the reference engine, memory, and ecs and lambda on the AWS simulator); it
# fails on an unexplained or a no longer occurring difference (test/conformance/known-differences.yaml)
# and regenerates docs/conformance.md, which must then match the committed one.
npm run conformance
if ! git diff --quiet -- docs/conformance.md; then
  git --no-pager diff --stat -- docs/conformance.md
  echo "docs/conformance.md is not current: run 'npm run conformance' and commit it" >&2
  exit 1
fi
