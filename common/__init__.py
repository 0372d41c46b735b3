"""The shared bottom layer: what the supervisor, the gateway and the workers all use.

Logs, atomic writes, tmux, the ZeroMQ bus sockets, status rendering, upload checks, exit
codes, backoff and background tasks. It imports only `vai.protocol` (pure data) and never
a process package, so every process can build on it.
"""
