#!/usr/bin/env bash
# Prepare everything robot_bridges needs on a machine with only Python 3.10+:
# a virtual environment with pinned ROS 2 wheels (Kilted by default, ROS_DISTRO=jazzy for
# Jazzy), then a colcon build of this package into .ros/<distro>/. Idempotent: the venv is
# rebuilt only when its requirements change, and colcon only rebuilds what changed.
# Source it (`. scripts/setup.sh`) to get the built package in the current shell.
# With a ROS installation already sourced (/opt/ros/<distro>), it skips the venv and just
# builds against that installation.

_rb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rb_distro="${ROBOT_BRIDGES_DISTRO:-${ROS_DISTRO:-kilted}}"
_rb_state="${_rb_root}/.ros/${_rb_distro}"

# The venv lives outside the source tree (CMake rejects exported include paths inside it),
# named by a hash of its requirements, so a changed pin always gets a fresh venv.
_rb_setup_venv() {
  local req="${_rb_root}/requirements/${_rb_distro}.txt"
  [ -f "${req}" ] || { echo "setup: no requirements for ROS_DISTRO=${_rb_distro}" >&2; return 1; }
  local want have venv
  want="$(cat "${req}" "${_rb_root}/requirements/common.txt" | sha256sum | cut -c1-16)"
  venv="${ROBOT_BRIDGES_VENV:-${XDG_CACHE_HOME:-${HOME}/.cache}/robot_bridges/venv-${_rb_distro}-${want}}"
  have="$(cat "${venv}/.robot_bridges_stamp" 2>/dev/null)"
  if [ "${want}" != "${have}" ]; then
    echo "setup: creating ${venv} (ROS 2 ${_rb_distro} wheels)"
    rm -rf "${venv}"
    mkdir -p "$(dirname "${venv}")" && python3 -m venv "${venv}" || return 1
    "${venv}/bin/pip" install --quiet --disable-pip-version-check -r "${req}" \
      2> >(grep -v "is ignored: it is neither" >&2) || return 1
    echo "${want}" > "${venv}/.robot_bridges_stamp"
  fi
  # A build configured against another venv would mix both: start it afresh.
  if [ "$(cat "${_rb_state}/venv.path" 2>/dev/null)" != "${venv}" ]; then
    rm -rf "${_rb_state}/build" "${_rb_state}/install"
    echo "${venv}" > "${_rb_state}/venv.path"
  fi
  # shellcheck disable=SC1091
  . "${venv}/bin/activate"
  export AMENT_PREFIX_PATH="${venv}" CMAKE_PREFIX_PATH="${venv}" ROS_DISTRO="${_rb_distro}"
}

# Builds of one tree are serialized (flock): two shells testing at once must not interleave.
_rb_build() {
  (cd "${_rb_root}" && flock 9 && colcon --log-base "${_rb_state}/log" build \
      --base-paths "${_rb_root}" --merge-install \
      --build-base "${_rb_state}/build" --install-base "${_rb_state}/install" \
      --event-handlers console_cohesion- console_stderr- status- \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$(command -v python3)" \
      > "${_rb_state}/build.out" 2>&1) 9> "${_rb_state}/build.lock" || { cat "${_rb_state}/build.out" >&2; return 1; }
  # shellcheck disable=SC1091
  . "${_rb_state}/install/setup.bash"
}

mkdir -p "${_rb_state}"
if [ -n "${AMENT_PREFIX_PATH:-}" ] && [ -d "/opt/ros/${_rb_distro}" ] && \
    [ "${ROBOT_BRIDGES_USE_VENV:-0}" != 1 ]; then
  echo "setup: using the sourced ROS installation (${_rb_distro})"
else
  _rb_setup_venv || { echo "setup: failed to prepare the virtual environment" >&2; return 1 2>/dev/null || exit 1; }
fi
_rb_build || { echo "setup: colcon build failed" >&2; return 1 2>/dev/null || exit 1; }
export ROBOT_BRIDGES_ROOT="${_rb_root}"
echo "setup: robot_bridges built for ROS 2 ${_rb_distro} in ${_rb_state}/install"
