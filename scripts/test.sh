#!/usr/bin/env bash
# README command 2: set up (idempotent) and run the whole test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k robot_chat -x`.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh"
# The real third-party peers of the conformance tests, each in its own environment.
# shellcheck disable=SC1091
. "$(dirname "$0")/peers.sh"
cd "${ROBOT_BRIDGES_ROOT}"
# Each run picks a DDS domain at random and stays on this host, so parallel runs rarely meet.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
# DDS over UDP on 127.0.0.1 only (test/fastdds_loopback_udp.xml): no shared memory, whose
# port locks a SIGKILLed participant can leave held. LOCALHOST would make rmw_fastrtps set
# its own transports (shared memory among them) in place of the profile's.
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-${ROBOT_BRIDGES_ROOT}/test/fastdds_loopback_udp.xml}"
if [ "${ROS_DISTRO}" = jazzy ]; then  # Fast DDS 2 reads the older name (3 warns of it)
  export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-${FASTDDS_DEFAULT_PROFILES_FILE}}"
fi
export ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET
# Two workers by default (pytest-xdist): most of the suite waits on processes and sockets,
# not on the CPU. ROBOT_BRIDGES_TEST_WORKERS=0 runs it in this one process. The tests of the
# fixed ports stay together on one worker (conftest.py), each worker on a DDS domain of its own.
workers="${ROBOT_BRIDGES_TEST_WORKERS:-2}"
parallel=()
if [ "${workers}" != 0 ]; then
  parallel=(-n "${workers}" --dist loadgroup)
fi
# `pytest`, not `python -m pytest`: the source tree must not shadow the built package.
exec pytest "${parallel[@]}" "$@"
