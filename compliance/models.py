"""Models of the compliance app arrive with its issue."""
