"""The balancing engine: pure Python, no I/O, no clock reads, no Home Assistant."""
