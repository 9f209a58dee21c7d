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
# One scenario suite against the reference engine, Sockerless's docker backend in front of it and
# the memory backend; fails on an unexplained or a no longer occurring difference
# (test/conformance/known-differences.yaml) and regenerates docs/conformance.md.
# The ecs and lambda targets (`npm run conformance`, all targets) are left out of CI until their
# exec/attach output loss (issue 6) is fixed: it makes single steps vary from run to run.
npm run conformance -- --targets docker,memory
