"""Pure functions between protocol events and ROS messages."""
