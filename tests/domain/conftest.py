"""Domain tests: the services, the worker's passes, the rules, events, settings and the
import rules, called directly in this process. No server, no HTTP, no socket; a few run a
management command in a child process (scenarios) or read the source (layering).

Nothing here is special to this level: the shared fixtures are in tests/conftest.py."""
