"""What a worker may say, beyond its link's union: checks the switchboard makes before it
routes. Pure (the inbox is read, never written).

The bus has made sure who sent a message; these make sure the sender speaks only for
itself: a message that names a session names the sender's, and the message ids it names
are ones the inbox holds for that session. The choice rules are in open_choices.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec

from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import DeliveryUpdate, PanePost, PostReply, TurnEnded
from vai.supervisor.interfaces import MessageStore

log = logging.getLogger("supervisor")


def speaks_for_itself(session: int, message: WorkerToSupervisor, session_exists: bool) -> bool:
    """The worker of `session` (still a session) says something of its own session."""
    claimed = getattr(message, "session", session)
    if claimed == session and session_exists:
        return True
    log.warning(
        "worker of session %d sent %s for session %s: dropped (%s)",
        session,
        type(message).__name__,
        claimed,
        "a worker speaks only for its own" if session_exists else "no such session",
    )
    return False


def own_channel_post(post: PanePost, channel_id: int) -> PostReply:
    """`dp` in a session's pane posts to that session's channel (it never names one)."""
    reply_id = f"pane-{post.session}-{post.post_id}"
    return PostReply(
        reply_id=reply_id, channel_id=channel_id, text=post.text, file_path=post.file_path
    )


def own_update(store: MessageStore, session: int, update: DeliveryUpdate) -> bool:
    """A delivery update names one of the session's messages."""
    return not _foreign(store, session, [update.message_id], update)


def own_turn(store: MessageStore, session: int, turn: TurnEnded) -> TurnEnded:
    """The turn without the message ids that are not the session's (the rest of it is
    the worker's own: it is answered and acknowledged)."""
    foreign = _foreign(store, session, turn.message_ids, turn)
    if not foreign:
        return turn
    ids = [i for i in turn.message_ids if i not in foreign]
    return msgspec.structs.replace(turn, message_ids=ids)


def _foreign(
    store: MessageStore, session: int, message_ids: Sequence[int], message: WorkerToSupervisor
) -> set[int]:
    foreign = {i for i in message_ids if store.session_of(i) != session}
    if foreign:
        log.warning(
            "worker of session %d named message(s) %s in %s: not its own, ignored",
            session,
            ", ".join(str(i) for i in sorted(foreign)),
            type(message).__name__,
        )
    return foreign
