"""Sans-I/O protocol modules: text/bytes in, typed events out, and back. No sockets, no rclpy."""
