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

_rb_setup_peers
