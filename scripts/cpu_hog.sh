#!/usr/bin/env bash
# Run a command while busy loops keep every core loaded (normal priority), then stop them.
# Usage: scripts/cpu_hog.sh [-n HOGS] COMMAND [ARGS...]   (HOGS defaults to the core count)
# e.g. scripts/cpu_hog.sh scripts/flaky.sh 10 test/test_fault_matrix.py
# The exit code is the command's. The hogs die with this script (trap), or when it is killed
# with SIGKILL, on their own: each one exits when its parent is gone.
set -uo pipefail
hogs="$(nproc)"
if [ "${1:-}" = -n ]; then hogs="$2"; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-n HOGS] COMMAND [ARGS...]" >&2; exit 2; }
pids=()
stop() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; }
trap stop EXIT
trap 'exit 130' INT TERM
for _ in $(seq "${hogs}"); do
  python3 -c '
import os
parent = os.getppid()
n = 0
while True:
    n += 1
    if n % 5_000_000 == 0 and os.getppid() != parent:
        break
' &
  pids+=($!)
done
echo "cpu_hog: ${hogs} busy loops (pids ${pids[*]}) while: $*" >&2
"$@"
