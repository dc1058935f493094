"""Line-based diffs of text files in the unified format."""
