#!/usr/bin/env bash
# Test-only: the real third-party peers of the conformance tests (STYLE.md item 7), each in
# its own small environment under .ros/peers/<service>, never in the project's venv.
# Sourced by scripts/test.sh after setup.sh; the main job never needs it.
#
# One folder per service under test/peers/<service>/, holding one of:
# - requirements.txt (pinned), and optionally `python-version` (e.g. `3.8`): a venv made with
#   that interpreter (python3.X on PATH, else pyenv's), or with python3;
# - package.json + package-lock.json: `npm ci` from the lockfile.
# Each environment is rebuilt only when its folder's pins change (a stamp of their hash).
# A peer that cannot be installed is reported and left out; its conformance test then says
# so (and fails under CI=true).

_rb_peer_python() {
  local want="$1" cand
  [ -n "${want}" ] || { command -v python3; return; }
  # A pyenv shim is on PATH for every version pyenv has, and fails unless that one is active.
  cand="$(command -v "python${want}" 2>/dev/null)" && "${cand}" -c '' 2>/dev/null &&
    { echo "${cand}"; return; }
  for cand in "${PYENV_ROOT:-${HOME}/.pyenv}"/versions/"${want}".*/bin/python"${want}"; do
    [ -x "${cand}" ] && { echo "${cand}"; return; }
  done
  return 1
}

_rb_setup_peer() {
  local src="$1" name dest want have py
  name="$(basename "${src}")"
  dest="${_rb_root}/.ros/peers/${name}"
  want="$(cat "${src}"/requirements.txt "${src}"/python-version "${src}"/package.json \
    "${src}"/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
  have="$(cat "${dest}/.peer_stamp" 2>/dev/null)"
  [ "${want}" = "${have}" ] && return 0
  rm -rf "${dest}" && mkdir -p "${dest}"
  if [ -f "${src}/package-lock.json" ]; then
    command -v npm > /dev/null || { echo "peers: ${name}: npm not found" >&2; return 1; }
    echo "peers: ${name}: npm ci (${src#"${_rb_root}"/}/package-lock.json)"
    cp "${src}/package.json" "${src}/package-lock.json" "${dest}/" &&
      (cd "${dest}" && npm ci --no-audit --no-fund --loglevel=error > npm.log 2>&1) ||
      { echo "peers: ${name}: npm ci failed:" >&2; tail -n 20 "${dest}/npm.log" >&2; return 1; }
  elif [ -f "${src}/requirements.txt" ]; then
    py="$(_rb_peer_python "$(cat "${src}/python-version" 2>/dev/null)")" ||
      { echo "peers: ${name}: no python$(cat "${src}/python-version") found" >&2; return 1; }
    echo "peers: ${name}: venv with $("${py}" --version 2>&1) (${src#"${_rb_root}"/}/requirements.txt)"
    "${py}" -m venv "${dest}" &&
      "${dest}/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "${src}/requirements.txt" > "${dest}/pip.log" 2>&1 ||
      { echo "peers: ${name}: pip install failed:" >&2; tail -n 20 "${dest}/pip.log" >&2; return 1; }
  else
    echo "peers: ${name}: neither package-lock.json nor requirements.txt" >&2; return 1
  fi
  echo "${want}" > "${dest}/.peer_stamp"
}

_rb_setup_peers() {
  local src
  for src in "${_rb_root}"/test/peers/*/; do
    [ -d "${src}" ] || continue
    _rb_setup_peer "${src%/}" || echo "peers: $(basename "${src}") left out" >&2
  done
}

# Test-only: the real `ros2 launch` and `ros2` CLI for the launch-file tests
# (test/test_launch_files.py). The pure-Python tools come as wheels in ../shared/ros-tools
# (or $ROBOT_BRIDGES_ROS_TOOLS) and go into the project's venv, since they import its rclpy;
# composition_interfaces, which launch_ros imports, is built with colcon into
# .ros/<distro>/tools. Kilted only. Skipped with a message when a sourced ROS installation
# already has `ros2`, or when there are no tools: the launch tests then skip (fail under CI).
_rb_setup_ros_tools() {
  local tools="${ROBOT_BRIDGES_ROS_TOOLS:-${_rb_root}/../shared/ros-tools}" dest want have
  local pins="${_rb_root}/requirements/ros-tools.txt"
  dest="${_rb_state}/tools"
  if [ -z "${VIRTUAL_ENV:-}" ]; then
    command -v ros2 > /dev/null && python3 -c 'import launch_ros' 2> /dev/null &&
      { echo "peers: ros-tools: using the sourced ROS installation's ros2"; return 0; }
    echo "peers: ros-tools: no venv and no ros2 on PATH: the launch tests skip" >&2; return 0
  fi
  [ "${_rb_distro}" = kilted ] ||
    { echo "peers: ros-tools: Kilted only; not installed for ${_rb_distro}"; return 0; }
  if [ ! -d "${tools}/wheels" ] || [ ! -d "${tools}/src/composition_interfaces" ]; then
    if [ -f "${dest}/.tools_stamp" ] && [ -f "${VIRTUAL_ENV}/.ros_tools_stamp" ]; then
      echo "peers: ros-tools: ${tools} not found: the earlier install stays in use"
    else
      echo "peers: ros-tools: ${tools} not found: the launch tests skip" >&2
    fi
    return 0
  fi
  tools="$(cd "${tools}" && pwd)"
  # The venv is shared by every checkout with the same pins: one install, under a lock.
  want="$( (cd "${tools}/wheels" && ls -l -- *.whl; cat "${pins}") | sha256sum | cut -c1-16)"
  (
    flock 9
    have="$(cat "${VIRTUAL_ENV}/.ros_tools_stamp" 2> /dev/null)"
    [ "${want}" = "${have}" ] && exit 0
    echo "peers: ros-tools: installing launch, launch_ros, ros2cli into ${VIRTUAL_ENV}"
    # shellcheck disable=SC2046
    pip install --quiet --disable-pip-version-check $(sed -e 's/#.*//' "${pins}" | grep '==') \
        2> >(grep -v "is ignored: it is neither" >&2) &&
      pip install --quiet --disable-pip-version-check --no-index --no-deps \
        --find-links "${tools}/wheels" $(sed -e 's/#.*//' -e '/==/d' "${pins}") &&
      echo "${want}" > "${VIRTUAL_ENV}/.ros_tools_stamp"
  ) 9> "${VIRTUAL_ENV}/.ros_tools.lock" ||
    { echo "peers: ros-tools: pip install failed" >&2; return 1; }
  # composition_interfaces: the wheels' stale include directories are dropped by this
  # project's CMake function, run at the end of that package's CMakeLists.txt.
  want="$( (cat "${VIRTUAL_ENV}/.ros_tools_stamp"; echo "${VIRTUAL_ENV}";
    cat "${_rb_root}"/cmake/drop_stale_include_dirs*.cmake;
    find "${tools}/src/composition_interfaces" -type f -exec sha256sum {} + | sort) |
    sha256sum | cut -c1-16)"
  have="$(cat "${dest}/.tools_stamp" 2> /dev/null)"
  [ "${want}" = "${have}" ] && return 0
  echo "peers: ros-tools: building composition_interfaces into ${dest#"${_rb_root}"/}"
  rm -rf "${dest}" && mkdir -p "${dest}"
  (cd "${dest}" && colcon --log-base "${dest}/log" build \
      --base-paths "${tools}/src/composition_interfaces" --merge-install \
      --build-base "${dest}/build" --install-base "${dest}/install" \
      --event-handlers console_cohesion- console_stderr- status- \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$(command -v python3)" \
        -DCMAKE_PROJECT_INCLUDE="${_rb_root}/cmake/drop_stale_include_dirs_deferred.cmake" \
      > "${dest}/build.out" 2>&1) ||
    { echo "peers: ros-tools: composition_interfaces failed to build:" >&2;
      tail -n 30 "${dest}/build.out" >&2; return 1; }
  echo "${want}" > "${dest}/.tools_stamp"
}

_rb_setup_peers
_rb_setup_ros_tools || echo "peers: ros-tools left out: the launch tests skip" >&2
