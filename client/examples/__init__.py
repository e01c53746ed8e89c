"""Runnable examples of the client (docs/client.md says how to run them)."""
