"""`dp` inside the pane, as the worker takes it: this session's channel, or nothing.

The pane's client (worker/pane_dp.py) sends what it would post, the target it was given
(if any) and a file's bytes; its connection already passed the gate (worker/pane_gate.py).
A target that is not this session (its number or its channel id) is refused with a
clear message and a log line; a file is copied into the bridge's own private folder
(state/outgoing/session_N/), from where the gateway uploads it, so nothing a pane names
by path is ever read by the bridge. The post goes to the supervisor as this session's
(PanePost), which addresses it to this session's channel itself.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from vai.common.outbox import prune_outbox
from vai.common.uploads import human_size, safe_filename
from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import PanePost

log = logging.getLogger("worker")


class PostRequest(msgspec.Struct, forbid_unknown_fields=True):
    target: str | None = None
    text: str = ""
    file_name: str = ""
    file: str = ""  # base64


class PanePosts:
    def __init__(
        self,
        *,
        session: int,
        channel_id: int,
        outgoing: Path,
        upload_limit: int,
        send: Callable[[WorkerToSupervisor], Awaitable[None]],
    ) -> None:
        self.session = session
        self.channel_id = channel_id
        self.outgoing = outgoing
        self.upload_limit = upload_limit
        self.send = send

    async def handle(self, body: bytes) -> bytes:
        """One request from the pane's `dp`; the answer line it prints."""
        try:
            request = msgspec.json.decode(body, type=PostRequest)
        except msgspec.DecodeError as exc:
            log.warning("dropped a malformed dp request from the pane: %s", exc)
            return b"error malformed request\n"
        problem = self.refusal(request)
        if problem:
            return f"error {problem}\n".encode()
        post_id = uuid.uuid4().hex
        path = ""
        if request.file_name or request.file:
            try:
                data = base64.b64decode(request.file, validate=True)
            except (binascii.Error, ValueError):
                return b"error the file did not arrive whole\n"
            if len(data) > self.upload_limit:
                shown = safe_filename(request.file_name)
                return (
                    f"error file `{shown}` is {human_size(len(data))}, over Discord's"
                    f" {human_size(self.upload_limit)} limit per file\n"
                ).encode()
            path = str(self.keep(post_id, request.file_name, data))
        await self.send(
            PanePost(session=self.session, post_id=post_id, text=request.text, file_path=path)
        )
        log.info("dp from the pane: posted to this session's channel")
        return b"ok posted to this session's channel\n"

    def refusal(self, request: PostRequest) -> str:
        """Why the request is refused ("" if it is not)."""
        if request.target is not None:
            target = request.target.strip()
            if not target.isdecimal() or int(target) not in (self.session, self.channel_id):
                log.warning(
                    "refused dp from the pane to %r: a pane posts only to its own session (%d)",
                    target[:40],
                    self.session,
                )
                return (
                    f"refused: dp in session {self.session}'s pane posts only to its own"
                    f" channel (leave out {target[:40]!r})"
                )
        if not request.text.strip() and not request.file_name and not request.file:
            return "nothing to post: give a message or --file"
        return ""

    def keep(self, post_id: str, name: str, data: bytes) -> Path:
        """The file's bytes, private to the bridge, until the gateway has posted them."""
        folder = self.outgoing / post_id
        folder.mkdir(mode=0o700, parents=True)
        path = folder / safe_filename(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def clean(self, now: float | None = None) -> None:
        """Remove the copies of files posted more than a day ago."""
        prune_outbox(self.outgoing, now)
