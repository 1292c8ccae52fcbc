#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, lints, typechecks, runs unit + sim +
# integration tests with node's test runner. Integration tests need root; without root they are
# reported as skipped (with the reason) by the runner, never silently passed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --with-test-tools
npm ci --no-audit --no-fund
npm run build
npm run lint
npm run typecheck

# One run of node's test runner so the closing summary counts every test: unit and simulation
# files first (no root), then integration. Files run one at a time: integration tests share the
# machine's 2 cores and time-sensitive kernel paths.
files=()
for dir in unit sim integration; do
  [[ -d dist/test/$dir ]] && while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$dir" -name '*.test.js' | sort)
done
node --test --test-concurrency=1 "${files[@]}"
