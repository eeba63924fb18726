"""Socket tests: the real ASGI application (origin check, session, routing, consumers)
through Channels' WebsocketCommunicator, with changes made through the services, so what a
socket receives is what the broadcast really sends after commit.

Their `empty_layer` fixture is in tests/conftest.py (an HTTP test's socket uses it too)."""
