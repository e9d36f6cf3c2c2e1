#!/usr/bin/env bash
# README command 1: set up (idempotent), then run every bridge against the simulator of its
# service, with the ROS traffic printed in this terminal. Ctrl-C stops everything.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Run from outside the source tree: its robot_bridges/ would shadow the built package.
cd "${_rb_state}"
exec python3 -m robot_bridges.tools.main_job "$@"
