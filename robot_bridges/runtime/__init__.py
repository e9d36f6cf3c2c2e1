"""asyncio <-> rclpy runtime: event-loop thread, transports, reconnection policy."""
