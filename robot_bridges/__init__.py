"""ROS 2 bridge nodes for robot WebSocket services, and simulators of those services."""
