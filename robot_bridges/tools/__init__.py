"""Command-line helpers: terminal views of ROS traffic for machines without the ros2 CLI."""
