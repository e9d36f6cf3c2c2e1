"""Every declared parameter of every bridge: a wrong type or range is one clear line."""

from __future__ import annotations

import importlib
from importlib.metadata import distributions
import inspect
import re
from typing import Any, Callable, Iterator

import pytest
from rcl_interfaces.msg import ParameterType
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from robot_bridges.bridges.victor_mic_bridge import VictorMicBridge
from robot_bridges.node import params as node_params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.params import ParameterError
from robot_bridges.runtime.loop_thread import LoopThread
from ros_helpers import Proc


def bridge_classes() -> list[type[BridgeNode]]:
    """Return every bridge the package installs (console scripts named *_bridge)."""
    classes = []
    # Two distributions are named robot_bridges (ours and rosidl's generated one): ask both.
    entries = [entry for dist in distributions()
               if dist.metadata['Name'].replace('-', '_') == 'robot_bridges'
               for entry in dist.entry_points if entry.group == 'console_scripts']
    for entry in entries:
        if entry.value.startswith('robot_bridges.bridges.') and entry.name.endswith('_bridge'):
            module = importlib.import_module(entry.module)
            classes += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                        if issubclass(cls, BridgeNode) and cls.__module__ == module.__name__
                        and not cls.__name__.endswith('Base')]
    return sorted(set(classes), key=lambda cls: cls.__name__)


BRIDGES = bridge_classes()
# Declared by rclpy itself, not by the bridges.
RCLPY_OWN = {'use_sim_time', 'start_type_description_service'}


@pytest.fixture(scope='module')
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def make(loop: LoopThread) -> Iterator[Callable[..., BridgeNode]]:
    """
    Construct bridges with parameter overrides, all in one context of the test's own.

    One context is one DDS participant (threads, shared memory): the Reachy walk constructs
    150 bridges, and a context each would make 150 participants live in this process.
    """
    context = rclpy.Context()
    rclpy.init(context=context)

    def construct(cls: type[BridgeNode], overrides: list[Parameter] | None = None) -> BridgeNode:
        return cls(loop, context=context, parameter_overrides=overrides or [],
                   namespace='/params_walk', enable_rosout=False)
    yield construct
    rclpy.try_shutdown(context=context)


def bad_values(descriptor: Any) -> list[tuple[str, Any]]:
    """Return a wrong-type value, and out-of-range ones where the parameter has a range."""
    kind = descriptor.type
    wrong: Any = {ParameterType.PARAMETER_STRING: True,
                  ParameterType.PARAMETER_STRING_ARRAY: 5}.get(kind, 'abc')
    values = [('wrong type', wrong)]
    if descriptor.integer_range:
        values.append(('out of range', descriptor.integer_range[0].to_value + 1))
        values.append(('out of range', descriptor.integer_range[0].from_value - 1))
    if descriptor.floating_point_range:
        values.append(('out of range', descriptor.floating_point_range[0].to_value * 2 + 1))
    return values


def test_every_bridge_is_walked() -> None:
    names = {cls.__name__ for cls in BRIDGES}
    assert {'RobotChatBridge', 'VictorMicBridge', 'WebVizBridge'} <= names, names


@pytest.mark.parametrize('cls', BRIDGES, ids=lambda cls: cls.__name__)
def test_bad_values_of_every_parameter_are_refused_in_one_line(
        cls: type[BridgeNode], make: Callable[..., BridgeNode]) -> None:
    node = make(cls)
    names = sorted(node._parameters)  # noqa: SLF001 - every declared parameter
    descriptors = node.describe_parameters(names)
    node.destroy_node()
    checked = 0
    for name, descriptor in zip(names, descriptors):
        if name in RCLPY_OWN:
            continue
        for what, value in bad_values(descriptor):
            with pytest.raises(ParameterError) as info:
                make(cls, [Parameter(name, value=value)])
            message = str(info.value)
            assert f"parameter '{name}'" in message and '\n' not in message, message
            assert len(message) <= 300, message
            if what == 'out of range':
                assert 'out of range' in message, message
            checked += 1
    assert checked >= len(names) - len(RCLPY_OWN)  # at least a wrong type for each


@pytest.mark.parametrize('cls', BRIDGES, ids=lambda cls: cls.__name__)
def test_integers_are_taken_for_doubles(cls: type[BridgeNode],
                                        make: Callable[..., BridgeNode]) -> None:
    node = make(cls, [Parameter('reconnect_max_s', value=7)])
    assert node.get_parameter('reconnect_max_s').value == 7.0
    assert node.get_parameter('reconnect_max_s').type_ == Parameter.Type.DOUBLE
    node.destroy_node()


def test_a_bad_value_on_the_command_line_exits_2_with_one_line(
        procs: Callable[..., Proc]) -> None:
    for params in ({'qos_depth': 0}, {'outbox_queue_size': 'abc'},
                   {'reconnect_min_s': 0.0}, {'max_message_bytes': 10}):
        bridge = procs('robot_chat_bridge', namespace='/params_cli', params=params)
        assert bridge.wait_exit(20) == 2
        name = next(iter(params))
        bridge.wait_output(rf"\[ERROR\].*parameter '{name}': ", 1)
        assert 'Traceback' not in bridge.output, bridge.output
    mic = procs('victor_mic_bridge', namespace='/params_cli', params={'max_samples': 0})
    assert mic.wait_exit(20) == 2 and 'Traceback' not in mic.output


def test_an_empty_module_list_fails_configure_in_one_line(procs: Callable[..., Proc]) -> None:
    bridge = procs('webviz_bridge', namespace='/params_cli', params={'modules': []})
    assert bridge.wait_exit(20) == 1
    bridge.wait_output(r'configure failed: modules is empty', 1)
    assert 'Traceback' not in bridge.output and 'Exception' not in bridge.output


@pytest.mark.parametrize('cls', BRIDGES, ids=lambda cls: cls.__name__)
def test_every_parameter_is_applied_at_run_time_or_read_only_and_says_so(
        cls: type[BridgeNode], make: Callable[..., BridgeNode]) -> None:
    node = make(cls)
    names = sorted(set(node._parameters) - RCLPY_OWN)  # noqa: SLF001
    runtime = set(node_params.runtime_parameters(node))
    for name, descriptor in zip(names, node.describe_parameters(names)):
        if name in runtime:
            assert not descriptor.read_only, name
            assert descriptor.description.endswith(node_params.AT_RUN_TIME), name
        else:
            assert descriptor.read_only, f'{name}: neither read-only nor applied at run time'
            assert re.search(r'Read-only: takes effect at \w+\.$', descriptor.description), name
    if 'max_publish_rate' in names:
        assert 'max_publish_rate' in runtime
    node.destroy_node()


def test_a_run_time_parameter_is_checked_then_applied_and_a_read_only_one_refused(
        make: Callable[..., BridgeNode], loop: LoopThread) -> None:
    node = make(VictorMicBridge, [Parameter('qos_depth', value=5)])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    [(topic, pacer)] = node._pacers  # noqa: SLF001
    assert topic == 'mic_direction' and pacer.rate == 0.0

    def on_loop(value: Callable[[], Any]) -> Any:
        return loop.submit(_call(value)).result(5)

    # `ros2 param set ... max_publish_rate 4` sends an integer: taken for the double.
    [result] = node.set_parameters([Parameter('max_publish_rate', value=4)])
    assert result.successful, result.reason
    assert node.get_parameter('max_publish_rate').type_ == Parameter.Type.DOUBLE
    assert on_loop(lambda: pacer.rate) == 4.0
    for value, why in ((-1.0, 'out of range'), (float('nan'), 'out of range'),
                       ('fast', 'type')):
        [result] = node.set_parameters([Parameter('max_publish_rate', value=value)])
        assert not result.successful and why in result.reason.lower(), (value, result.reason)
    assert node.get_parameter('max_publish_rate').value == 4.0
    assert on_loop(lambda: pacer.rate) == 4.0
    [result] = node.set_parameters([Parameter('qos_depth', value=50)])
    assert not result.successful and 'read-only' in result.reason
    assert node.get_parameter('qos_depth').value == 5
    [result] = node.set_parameters([Parameter('max_publish_rate', value=0.0)])
    assert result.successful and on_loop(lambda: pacer.rate) == 0.0
    # Unconfigured: nothing to apply to; the next configure reads the stored value.
    node.trigger_cleanup()
    [result] = node.set_parameters([Parameter('max_publish_rate', value=25.0)])
    assert result.successful
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node._pacers[0][1].rate == 25.0  # noqa: SLF001
    node.trigger_cleanup()
    node.destroy_node()


async def _call(value: Callable[[], Any]) -> Any:
    """Return ``value()`` as the loop thread sees it, after what was queued before."""
    return value()
