#!/usr/bin/env bash
# Set up (idempotent), then soak every bridge against its simulator at its benchmark rate and
# print the memory/CPU and sent/received tables (exit non-zero on a failure).
# `scripts/soak.sh` runs 10 minutes; `--minutes N` or `--seconds N` for other lengths.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh" >&2
# Each run gets its own DDS domain (unless one is given) and stays on this host.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( RANDOM % 102 ))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Never from the source tree: it would shadow the built package.
cd "${TMPDIR:-/tmp}"
exec python3 "${ROBOT_BRIDGES_ROOT}/bench/soak.py" "$@"
