#!/usr/bin/env bash
# make demo: a three-host cluster in network namespaces on this machine (src/cluster/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/src/cluster/demo.js
