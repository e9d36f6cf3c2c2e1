"""Where the conformance tests find the real third-party peers (scripts/peers.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def peers_root() -> Path:
    """Return `.ros/peers` of this checkout (made by scripts/peers.sh)."""
    root = os.environ.get('ROBOT_BRIDGES_ROOT') or str(Path(__file__).resolve().parents[1])
    return Path(root) / '.ros' / 'peers'


def require_peer(service: str, *inside: str) -> Path:
    """
    Return the peer environment of `service`, or skip the test with a one-line reason.

    Under CI=true a missing peer fails the test instead: a conformance test must run there.
    `inside` names paths that must exist in the environment (e.g. 'bin/python').
    """
    env = peers_root() / service
    missing = [p for p in ('.peer_stamp', *inside) if not (env / p).exists()]
    if missing:
        reason = (f'real peer {service!r} is not installed ({env} lacks {", ".join(missing)}); '
                  'scripts/test.sh installs it from test/peers/' + service)
        if os.environ.get('CI') == 'true':
            pytest.fail(reason + ' (CI=true: a conformance test must run)', pytrace=False)
        pytest.skip(reason)
    return env
