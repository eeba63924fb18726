"""The MTN MoMo Collections API, served at the server root (see docs/momo.md and shared MOMO.md)."""
