"""
The simulator's scripted audience: what a few users, the owner and the site do, in a loop.

Every step is (socket, event, payload). The script holds commands with key down/up from a
few users (both user shapes), chat in the site's ``[name] text`` form, a ``.exclusive`` by
the owner and its end, the owner's forms the reference client ignores (a bare
``.exclusive``, extra words) and ``.exclusive mods on|off``, the same by the site's
``exclusive_control``, a message removal, a settings change, a command for another robot id,
a ``.exclusive`` by someone who is not the owner, and a few malformed payloads.
"""

from __future__ import annotations

from typing import Any, Iterator

Step = tuple[str, str, Any]
OTHER_ROBOT_ID = 'some-other-robot'


def command(robot_id: str, user: str, key: str, position: str, nested: bool = False) -> Any:
    """Return a command_to_robot payload; ``nested``: the older servers' user object."""
    if nested:
        return {'robot_id': robot_id, 'command': key, 'key_position': position,
                'user': {'username': user, 'anonymous': False}}
    return {'robot_id': robot_id, 'command': key, 'user': user, 'key_position': position,
            'anonymous': False}


def chat(robot_id: str, name: str, text: str, message_id: str) -> Any:
    """Return a chat_message_with_name payload in the site's form."""
    return {'name': name, 'message': f'[{name}] {text}', 'robot_id': robot_id,
            'room': 'sim_room', 'non_global': True, 'username_color': '#F16B74',
            'anonymous': False, '_id': message_id}


def script(robot_id: str, owner: str, round_: int) -> Iterator[Step]:
    """Yield one round of the audience's steps."""
    def press(user: str, key: str, nested: bool = False) -> Iterator[Step]:
        yield 'control', 'command_to_robot', command(robot_id, user, key, 'down', nested)
        yield 'control', 'command_to_robot', command(robot_id, user, key, 'up', nested)

    message_id = f'sim{round_:04d}'
    yield from press('alice', 'F')
    say = 'chat', 'chat_message_with_name'
    yield *say, chat(robot_id, 'alice', 'hello robot!', 'a' + message_id)
    yield from press('bob', 'L', nested=True)
    yield *say, chat(robot_id, owner, '.exclusive bob', 'o' + message_id)
    yield from press('alice', 'B')  # dropped by the robot: bob has exclusive control
    yield *say, chat(robot_id, owner, '.exclusive', 'q' + message_id)  # no effect
    yield *say, chat(robot_id, owner, '.exclusive carol now', 'r' + message_id)  # no effect
    yield *say, chat(robot_id, owner, '.exclusive mods on', 's' + message_id)
    yield from press('bob', 'R')
    yield *say, chat(robot_id, owner, '.exclusive mods off', 't' + message_id)
    yield 'chat', 'chat_message_with_name', chat(robot_id, 'bob', 'I drive now', 'b' + message_id)
    yield 'user', 'message_removed', {'message_id': 'b' + message_id}
    yield *say, chat(robot_id, owner, '.exclusive off', 'p' + message_id)
    yield 'chat', 'chat_message_with_name', chat(robot_id, 'carol', '.exclusive carol',
                                                 'c' + message_id)  # not the owner: no effect
    yield 'app', 'exclusive_control', {'status': 'start', 'robot_id': robot_id, 'user': 'carol'}
    yield from press('carol', 'F')
    yield from press('alice', 'F')  # dropped
    yield 'app', 'exclusive_control', {'status': 'end', 'robot_id': robot_id}
    yield 'settings', 'robot_settings_changed', {'mic_enabled': round_ % 2 == 0}
    yield 'control', 'command_to_robot', command(OTHER_ROBOT_ID, 'alice', 'F', 'down')
    # Malformed payloads, as a broken or hostile server might send them.
    yield 'control', 'command_to_robot', 'F'
    yield 'control', 'command_to_robot', {'robot_id': robot_id, 'user': 'alice'}
    yield 'control', 'command_to_robot', {'robot_id': robot_id, 'command': 'F',
                                          'user': 'x' * 100_000}
    yield 'chat', 'chat_message_with_name', {'name': 'alice', 'message': 5}
    yield 'app', 'exclusive_control', {'status': 'maybe', 'robot_id': robot_id}
    yield 'user', 'message_removed', []
