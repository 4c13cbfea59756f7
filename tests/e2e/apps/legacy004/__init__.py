"""A service written the way Lcore 0.0.4's guides (seeds 000 and 001) teach, not from lcore's tests."""
