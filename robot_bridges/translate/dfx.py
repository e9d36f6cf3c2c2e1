"""DFX events <-> robot_bridges/msg/DfxChunk, DfxResult, DfxStatus (pure functions)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from robot_bridges.msg import DfxChunk, DfxResult, DfxSignal, DfxStatus
from robot_bridges.protocols import json_text
from robot_bridges.protocols.dfx import (AddData, chunk_action, describe_binary,
                                         LocalProtocolError, Response, Result, StatusBody)
from robot_bridges.protocols.dfx_pending import Pending

TIMEOUT = 'TIMEOUT'


def to_add_data(msg: DfxChunk) -> AddData:
    """Build the 0506 request of a chunk; raises LocalProtocolError if ``meta`` is not JSON."""
    if msg.meta:
        json_text.loads(msg.meta, LocalProtocolError)
    return AddData(msg.measurement_id, msg.chunk_order, chunk_action(msg.chunk_order, msg.last),
                   msg.start_time, msg.end_time, msg.duration, bytes(msg.payload),
                   msg.meta.encode('utf-8'))


def status_message(pending: Pending, response: Response, body: StatusBody,
                   stamp: Time) -> DfxStatus:
    """Build the add_data_status of a response; the body's IDs win over the request's."""
    msg = DfxStatus(
        request_id=response.request_id, action=pending.action,
        measurement_id=(body.measurement_id if body.measurement_id is not None
                        else pending.measurement_id),
        chunk_order=body.chunk_order if body.chunk_order is not None else pending.chunk_order,
        status=response.status, error_code=body.error_code, body=body.text)
    msg.header.stamp = stamp
    return msg


def timeout_message(pending: Pending, stamp: Time) -> DfxStatus:
    """Build the status of a request that got no answer in time (status 0, TIMEOUT)."""
    msg = DfxStatus(request_id=pending.request_id, action=pending.action,
                    measurement_id=pending.measurement_id, chunk_order=pending.chunk_order,
                    status=0, error_code=TIMEOUT)
    msg.header.stamp = stamp
    return msg


def unknown_message(response: Response, stamp: Time) -> DfxStatus:
    """Build the message of a response whose request ID matches nothing pending."""
    try:
        text = response.body.decode('utf-8')
    except UnicodeDecodeError:
        text = ''
    if not text or '\x00' in text:  # ROS strings cannot carry NUL
        text = describe_binary(response.body)
    msg = DfxStatus(request_id=response.request_id, status=response.status, body=text)
    msg.header.stamp = stamp
    return msg


def result_message(result: Result, request_id: str, measurement_id: str,
                   stamp: Time) -> DfxResult:
    """Build the results message; ``measurement_id`` (subscribed) if the body names none."""
    msg = DfxResult(
        measurement_id=result.measurement_id or measurement_id,
        chunk_order=result.chunk_order, measurement_result_id=result.result_id,
        request_id=request_id, error_code=result.error_code,
        multiplier=result.multiplier, json=result.json, body=result.raw,
        signals=[DfxSignal(name=s.name, data=s.data) for s in result.signals])
    msg.header.stamp = stamp
    return msg
