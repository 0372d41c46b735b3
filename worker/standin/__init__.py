"""Modules of the Claude Code stand-in (entry point: worker/standin_claude.py).

Split by concern so each piece can be read on its own: key parsing (keys), hooks and
settings (hooks), transcripts and ids (store), screen drawing (screen), the session state
machine (app). Stdlib only and light imports: the stand-in must start as fast as possible.
"""
