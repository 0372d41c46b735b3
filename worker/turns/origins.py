"""Who wrote a prompt, and what a turn that failed says: pure readings of two hooks.

The bridge types its prompts into Claude's composer. Claude Code also starts turns of its
own: another Claude session's message (`<cross-session-message from="...">`), a background
task's end (`<task-notification>`), a /loop or scheduled wakeup. Such a turn must never
finish or acknowledge a Discord message, nor be put in a Discord user's name: its answer
is posted on its own, under a line that says where the prompt came from. UserPromptSubmit's
`source` says it when the CLI sends it ("user" is the composer); 2.1.330 and 2.1.332 leave
it out, so the wrappers the CLI puts around such prompts say it too.
(tests/fixtures/real_screens/README.md, "Turns that fail".)
"""

from __future__ import annotations

import re

from vai.protocol.hooks import StopFailure, UserPromptSubmit

# `source` values of prompts typed in the composer ("" : a CLI that does not say).
COMPOSER_SOURCES = frozenset({"", "user"})
FROM_PEER = "a message from another Claude session"
_PEER = re.compile(r"^<cross-session-message\b([^>]*)>")
_PEER_NAMES = (re.compile(r'\bfrom-name="([^"]{1,80})"'), re.compile(r'\bfrom="([^"]{1,80})"'))
_WRAPPERS = {
    "<task-notification": "a background task Claude started has finished",
    "<teammate-message": "a message from a teammate agent",
}
_SOURCES = {
    "system": "Claude Code started this turn itself",
    "loop_wakeup": "a /loop wakeup",
    "schedule_wakeup": "a scheduled task",
    "poll_event": "an event Claude Code was polling for",
    "sdk": "a prompt from the Agent SDK",
}


def foreign_origin(hook: UserPromptSubmit) -> str:
    """Where a prompt the bridge did not type came from, in words; "" for the composer's
    (the bridge's, or typed in the pane by hand)."""
    prompt = hook.prompt.lstrip()
    peer = _PEER.match(prompt)
    if peer is not None:
        # Its name if it has one, else its address (as the CLI shows the sender).
        found = [m.group(1) for p in _PEER_NAMES if (m := p.search(peer.group(1)))]
        sender = found[0].replace("`", "'") if found else ""
        return f"{FROM_PEER} (`{sender}`)" if sender else FROM_PEER
    for marker, words in _WRAPPERS.items():
        if prompt.startswith(marker):
            return words
    if hook.source in COMPOSER_SOURCES:
        return ""
    return _SOURCES.get(hook.source, f"a prompt from `{hook.source[:40]}`")


def failure_text(hook: StopFailure) -> str:
    """Why the turn failed, in the CLI's own words (what it shows in the pane), else the
    HTTP error, else its kind (`error` alone can mislead: a 529 comes as server_error)."""
    said = (hook.last_assistant_message or "").strip()
    kind = hook.error.replace("_", " ").strip()
    return said or hook.error_details.strip() or kind or "unknown error"
