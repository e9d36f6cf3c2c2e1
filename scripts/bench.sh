#!/usr/bin/env bash
# README command 3: set up (idempotent), then measure each bridge against its simulator next
# to the floor (raw websocket + raw rclpy hop) and print one markdown table.
# Arguments pick cases, e.g. `scripts/bench.sh robot_chat` (default: all); `--rounds N`
# sets the rounds per case (default 3; a message-stream case takes about 6 minutes).
# `scripts/bench.sh footprint` compares the main job's bridges in one process and in six;
# `scripts/bench.sh contention` runs the 1 kHz streams while busy loops hold every core.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh" >&2
# Each run gets its own DDS domain (unless one is given) and stays on this host.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( RANDOM % 102 ))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Never from the source tree: it would shadow the built package.
cd "${TMPDIR:-/tmp}"
# `scripts/bench.sh footprint`: the six bridges' RSS, threads, CPU in one process vs six.
if [ "${1:-}" = footprint ]; then
  shift
  exec python3 "${ROBOT_BRIDGES_ROOT}/bench/footprint.py" "$@"
fi
# `scripts/bench.sh contention`: the 1 kHz streams of floor and bridge under busy loops.
if [ "${1:-}" = contention ]; then
  shift
  exec python3 "${ROBOT_BRIDGES_ROOT}/bench/contention.py" "$@"
fi
exec python3 "${ROBOT_BRIDGES_ROOT}/bench/run.py" "$@"
