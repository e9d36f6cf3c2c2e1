"""
Executable robot_chat_server: the Robot Chat one-to-all relay.

The reference example's semantics, minus its defects: every connect and disconnect sends
``{"type": "users", "count": N}`` to all clients (the new one included); every frame is
forwarded verbatim to every other client and dropped when the sender is alone. A client
that vanishes without a close handshake is removed quietly, and the count stays true. A
client that stops reading is disconnected, with a log line, once more than
``--max-send-buffer`` bytes wait for it; one that sends nothing (not even a pong) for 40 s
is disconnected too. SIGINT/SIGTERM closes every connection within about a second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Sequence

from robot_bridges.protocols.robot_chat import users_frame
from robot_bridges.runtime.websocket_guard import (DEFAULT_MAX_SEND_BUFFER_BYTES,
                                                   guarded_server)
from robot_bridges.sims import command_line
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.server import broadcast, serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed

# A close handshake a client does not answer ends after this (SIGTERM must end us in 2 s).
CLOSE_TIMEOUT_S = 1.0


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


async def start(host: str, port: int, max_size: int,
                max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER_BYTES) -> Server:
    """Start a relay; ``port`` 0 picks a free one (see ``server.sockets``)."""
    relay = RobotChatRelay()
    return await serve(relay.handle, host, port, max_size=max_size, compression=None,
                       close_timeout=CLOSE_TIMEOUT_S,
                       logger=logging.getLogger('robot_chat_server'),
                       create_connection=guarded_server(max_send_buffer))


def bound_port(server: Server) -> int:
    """Return the TCP port the server listens on."""
    return int(next(iter(server.sockets)).getsockname()[1])


async def serve_until_signalled(host: str, port: int, max_size: int,
                                max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER_BYTES) -> None:
    """Run until SIGINT or SIGTERM, then close every connection cleanly."""
    server = await start(host, port, max_size, max_send_buffer)
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
    parser.add_argument('--max-send-buffer', type=int, default=DEFAULT_MAX_SEND_BUFFER_BYTES,
                        help='bytes allowed to wait for one client; past it, the client is '
                             'disconnected')
    args = command_line.parse_args(parser, argv)
    if args.max_send_buffer < 1:
        parser.error('--max-send-buffer must be positive')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_chat_server``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='robot_chat_server: %(message)s')
    asyncio.run(serve_until_signalled(args.host, args.port, args.max_size,
                                      args.max_send_buffer))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
