"""Terminal views of runs: progress lines and the agent tree. Reads the archive only."""
