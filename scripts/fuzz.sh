#!/usr/bin/env bash
# The long fuzzing run: every property test of the protocol modules with the 'fuzz'
# hypothesis profile (10,000 examples per target; see test/conftest.py). Extra arguments go
# to pytest. The suite (and CI) runs the same tests with a few hundred examples each.
set -eo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/setup.sh"
cd "${ROBOT_BRIDGES_ROOT}"
export ROBOT_BRIDGES_FUZZ_PROFILE=fuzz
# A target takes minutes at 10,000 examples on a loaded machine: lift the suite's time limit
# (180 s) and its stack dump (150 s).
exec pytest -q -m fuzz --timeout 3600 -o faulthandler_timeout=3500 --hypothesis-show-statistics "$@"
