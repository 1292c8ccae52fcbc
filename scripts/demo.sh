#!/usr/bin/env bash
# The embedded default: replays the bundled capture into a built-in target in a private network
# namespace. Lands with the offline-replay issue; until then it says so.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: not yet available — offline replay (tcpcopy -i) has not landed yet. Run 'bash scripts/test.sh' for the test suite." >&2
exit 1
