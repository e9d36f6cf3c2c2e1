"""
Executable robot_chat_server: the Robot Chat one-to-all relay.

The reference example's semantics, minus its defects: every connect and disconnect sends
``{"type": "users", "count": N}`` to all clients (the new one included); every frame is
forwarded verbatim to every other client and dropped when the sender is alone. A client
that vanishes without a close handshake is removed quietly, and the count stays true.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Sequence

from robot_bridges.protocols.robot_chat import users_frame
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.server import broadcast, serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed


class RobotChatRelay:
    """The relay's state: the set of connected clients."""

    def __init__(self) -> None:
        self.clients: set[ServerConnection] = set()

    async def handle(self, connection: ServerConnection) -> None:
        """Serve one client until it goes, cleanly or not."""
        clients = self.clients
        clients.add(connection)
        broadcast(clients, users_frame(len(clients)))
        try:
            async for frame in connection:
                if len(clients) > 1:
                    broadcast([c for c in clients if c is not connection], frame)
        except ConnectionClosed:
            pass
        finally:
            clients.discard(connection)
            broadcast(clients, users_frame(len(clients)))


async def start(host: str, port: int, max_size: int) -> Server:
    """Start a relay; ``port`` 0 picks a free one (see ``server.sockets``)."""
    relay = RobotChatRelay()
    return await serve(relay.handle, host, port, max_size=max_size, compression=None,
                       logger=logging.getLogger('robot_chat_server'))


def bound_port(server: Server) -> int:
    """Return the TCP port the server listens on."""
    return int(next(iter(server.sockets)).getsockname()[1])


async def serve_until_signalled(host: str, port: int, max_size: int) -> None:
    """Run until SIGINT or SIGTERM, then close every connection cleanly."""
    server = await start(host, port, max_size)
    print(f'robot_chat_server: listening on ws://{host}:{bound_port(server)}', flush=True)
    await stop_event().wait()
    server.close()
    await server.wait_closed()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to bind (0.0.0.0 for all: ask for it explicitly)')
    parser.add_argument('--port', type=int, default=5001, help='TCP port (0: any free port)')
    parser.add_argument('--max-size', type=int, default=1 << 20,
                        help='largest frame accepted, bytes; a larger one closes its sender')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_chat_server``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='robot_chat_server: %(message)s')
    asyncio.run(serve_until_signalled(args.host, args.port, args.max_size))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
