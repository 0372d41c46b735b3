"""Who the session's Claude is, and what lets it speak to its worker.

Claude's own OS user, when it has one (`[claude] user`): its uid is the one hook
connections must come from, and its group reaches run/session-N/ and the session's
attachments. The gate's key is made with the session folder, before the pane starts.
"""

from __future__ import annotations

import os
import sys

from vai.protocol.specs import WorkerSpec
from vai.worker.pane_gate import Gate
from vai.worker.session_files import SessionFiles, SessionFilesError


class PaneAccess:
    def __init__(self, spec: WorkerSpec) -> None:
        user = spec.claude_user
        self.uid = user.uid if user is not None else os.getuid()
        self.group = user.gid if user is not None else None
        python = spec.pane_python or sys.executable
        self.files = SessionFiles(spec.layout, spec.session, self.group, python)
        self.gate = Gate(key=b"", uid=self.uid)
        self._problem = spec.claude_user_problem

    def prepare(self) -> str:
        """Make the session's folder and key; why Claude must not start ("" if it may)."""
        if self._problem:
            # Never run Claude as the bridge's user when it was meant to be another.
            return self._problem
        try:
            self.gate = Gate(key=self.files.prepare(), uid=self.uid)
        except SessionFilesError as exc:
            return str(exc)
        return ""
