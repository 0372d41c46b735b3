"""claude-discord-bridge, installed under one namespace of its own.

The repository keeps the design card's top-level folders (protocol/, worker/, gateway/,
supervisor/); each is linked here as `vai.<name>`, so the installed packages can never
clash with another distribution's top-level `supervisor` (supervisord) or `worker`.
"""
