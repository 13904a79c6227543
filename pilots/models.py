"""Models of the pilots app arrive with its issue."""
