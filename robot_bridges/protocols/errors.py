"""Whose fault a protocol error is: the peer's (remote) or our caller's (local)."""


class RemoteProtocolError(ValueError):
    """The peer sent something the protocol does not allow (their fault)."""


class LocalProtocolError(ValueError):
    """We were asked to send something the protocol does not allow (our caller's fault)."""
