"""
DFX API v1 protobuf messages: the ``.proto`` files here, compiled by the build.

``adddata_pb2``, ``subscribe_pb2`` and ``login_pb2`` are generated with ``protoc`` at build
time (CMakeLists.txt) and installed into this package next to the ``.proto`` files.
"""
