#!/usr/bin/env bash
# README command 2: set up (idempotent) and run the whole test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k robot_chat -x`.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh"
cd "${ROBOT_BRIDGES_ROOT}"
# Each run picks a DDS domain at random and stays on this host, so parallel runs rarely meet.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# `pytest`, not `python -m pytest`: the source tree must not shadow the built package.
exec pytest "$@"
