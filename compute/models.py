"""Models of the compute app arrive with its issue."""
