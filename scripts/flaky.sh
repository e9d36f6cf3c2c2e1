#!/usr/bin/env bash
# Run a pytest selection N times in a row: one line per run, then a summary.
# Usage: scripts/flaky.sh N [pytest args...]   e.g. scripts/flaky.sh 10 test/test_fault_matrix.py
# Sets up once (scripts/setup.sh), then runs scripts/test.sh's pytest for each run; each
# run's whole output is kept in .ros/flaky/<stamp>/run-<i>.log. Exits 1 if any run failed.
set -uo pipefail
runs="${1:?usage: $0 N [pytest args...]}"
shift
here="$(cd "$(dirname "$0")" && pwd)"
logs="${here}/../.ros/flaky/$(date +%Y%m%d-%H%M%S)"
mkdir -p "${logs}"
green=0
failing=()
for i in $(seq "${runs}"); do
  start=$(date +%s)
  "${here}/test.sh" -q -rfE "$@" > "${logs}/run-${i}.log" 2>&1
  code=$?
  took=$(( $(date +%s) - start ))
  # pytest's closing line, e.g. "== 1 failed, 11 passed in 80.1s ==".
  summary="$(grep -E '^(=+ )?([0-9]+ [a-z]+.*|no tests ran) in [0-9.]+s' "${logs}/run-${i}.log" \
    | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')"
  if [ "${code}" -eq 0 ]; then
    green=$((green + 1)); verdict=PASS
  else
    verdict="FAIL(exit ${code})"
    while read -r name; do failing+=("${name}"); done < <(
      grep -E '^(FAILED|ERROR) ' "${logs}/run-${i}.log" | awk '{print $2}')
  fi
  printf 'run %d/%d: %-13s %4ds  %s\n' "${i}" "${runs}" "${verdict}" "${took}" "${summary:-no pytest summary}"
done
printf 'flaky: %d of %d runs green; logs in %s\n' "${green}" "${runs}" "$(cd "${logs}" && pwd)"
if [ ${#failing[@]} -gt 0 ]; then
  printf '%s\n' "${failing[@]}" | sort | uniq -c | sort -rn | sed 's/^/  failed: /'
fi
[ "${green}" -eq "${runs}" ]
