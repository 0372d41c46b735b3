"""Claude's state and the turn lifecycle of a session: the tracker, its events and actions."""
