"""LiveSettle's benchmark: `make bench` (full, < 10 min) or `make bench-quick` (< 2 min)."""
