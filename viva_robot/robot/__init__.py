"""The real-robot side that does not need ROS: safety rules; the ROS 2 nodes wrap these (issue 5)."""
