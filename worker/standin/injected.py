"""What the stand-in says for turns that fail and sends for turns it starts itself, as the
real CLI does (2.1.330/2.1.332 against the fake API; tests/fixtures/real_screens/README.md,
"Turns that fail").

`!fail KIND` ends the turn with StopFailure (KIND as the hook's `error`), the error shown as
the answer and a placeholder in the empty box; `!background N` leaves a background task
that ends after N seconds with a `<task-notification>` turn; `!peer NAME TEXT` answers, then
gets TEXT from another session, wrapped as the CLI wraps it.
"""

from __future__ import annotations

# The error kinds of StopFailure, with what the real CLI shows (and sends as
# last_assistant_message) for each.
API_ERRORS = {
    "server_error": "API Error: 500 Internal server error. This is a server-side issue,"
    " usually temporary — try again in a moment.",
    "rate_limit": "API Error: Request rejected (429) · Number of request tokens has exceeded"
    " your limit",
    "overloaded": "API Error: 529 Overloaded. This is a server-side issue, usually temporary"
    " — try again in a moment.",
    "invalid_request": "Prompt is too long",
    "authentication_failed": "Invalid API key · Fix external API key",
}
# The composer's placeholder after a failed turn (dim in the real CLI: no text in the box).
RETRY_PLACEHOLDER = "Resend your message to try again"


def error_text(kind: str) -> str:
    return API_ERRORS.get(kind, f"API Error: {kind}")


def background_task(task_id: str, description: str, command: str) -> dict[str, str]:
    """One entry of Stop's `background_tasks`."""
    return {
        "id": task_id,
        "type": "shell",
        "status": "running",
        "description": description,
        "command": command,
    }


def task_notification(task_id: str, description: str) -> str:
    """The prompt the CLI submits itself when a background task ends."""
    return (
        f"<task-notification>\n<task-id>{task_id}</task-id>\n<status>completed</status>\n"
        f'<summary>Background command "{description}" completed (exit code 0)</summary>\n'
        "</task-notification>"
    )


def cross_session(sender: str, text: str) -> str:
    """A message from another Claude session, as the CLI wraps it."""
    return f'<cross-session-message from="{sender}">\n{text}\n</cross-session-message>'


def injected_answer(prompt: str) -> str | None:
    """The stand-in's answer to a prompt it gave itself (None: an ordinary prompt)."""
    if prompt.startswith("<task-notification>"):
        return "The background task finished."
    if prompt.startswith("<cross-session-message"):
        body = prompt.split("\n", 1)[-1].removesuffix("</cross-session-message>").strip()
        return f"echo: {body}"
    return None
