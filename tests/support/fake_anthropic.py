"""A local fake of the Anthropic Messages API, good enough to drive the real Claude Code CLI.

Runs an aiohttp server on 127.0.0.1 (ephemeral port) in a background thread with its own event
loop. `POST /v1/messages` is answered the way Anthropic streams (SSE: message_start,
content_block_start, content_block_delta with text_delta or input_json_delta, content_block_stop,
message_delta with stop_reason and usage, message_stop). Every other path gets a harmless answer
and is recorded in `unknown_paths`.

Replies are scripted by rules on the text of the LAST `role: "user"` message (Claude Code ends
`messages` with a `role: "system"` environment message, so `messages[-1]` is not the prompt):

    with FakeAnthropic() as fake:
        fake.on(lambda t: t.startswith("run "), ToolCall("Bash", {"command": "echo hi"}))
        fake.on(lambda t: t == "slow", "done", delay=30)
        ...  # point ANTHROPIC_BASE_URL at fake.base_url

A rule replying with a `ToolCall` answers with a `tool_use` block and `stop_reason: "tool_use"`;
the CLI runs the tool and sends its `tool_result` in the next request, which the fake answers with
the rule's `after_tool(result_text)` (by default `tool said: <result text>`). A rule replying
with an `ApiError` answers with that HTTP status and Anthropic's error body (500, 529
`overloaded_error`, 429 `rate_limit_error`, 400 `invalid_request_error`...): the CLI retries
what it may and, when it gives up, ends the turn with a StopFailure hook (`times=` bounds how
often a rule fails). Without a matching rule the answer is `echo: <user text>`. The CLI always
streams; a request with an explicit `"stream": false` (never sent by the CLI) gets the same
answer as one JSON message.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

JSON = dict[str, Any]
SYSTEM_REMINDER = "<system-reminder>"


@dataclass(frozen=True)
class ToolCall:
    """Answer with a tool_use block (optionally preceded by some text)."""

    name: str
    input: JSON
    text: str = ""


@dataclass(frozen=True)
class ApiError:
    """Answer with an HTTP error, as the Messages API reports one."""

    status: int
    type: str
    message: str = "scripted failure"

    @property
    def body(self) -> JSON:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}


OVERLOADED = ApiError(529, "overloaded_error", "Overloaded")
SERVER_ERROR = ApiError(500, "api_error", "Internal server error")
RATE_LIMITED = ApiError(429, "rate_limit_error", "Number of request tokens has exceeded your limit")
INVALID_REQUEST = ApiError(400, "invalid_request_error", "prompt is too long")

Answer = str | ToolCall | ApiError
AnswerFn = Callable[[str], Answer]


def default_after_tool(result: str) -> str:
    return f"tool said: {result}"


@dataclass
class Rule:
    """A scripted answer: `reply` when `match(user_text)` is true (at most `times` times)."""

    match: Callable[[str], bool]
    reply: Answer | AnswerFn
    delay: float = 0.0
    gate: threading.Event | None = None
    after_tool: Callable[[str], str] = default_after_tool
    times: int | None = None
    chunk_delay: float = 0.0
    hits: int = 0

    def answer(self, text: str) -> Answer:
        return self.reply(text) if callable(self.reply) else self.reply


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: JSON | None
    at: float = field(default_factory=time.monotonic)

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def user_text(self) -> str | None:
        """The prompt text of the last user message (None if it carries a tool result)."""
        if self.body is None:
            return None
        user = last_user_message(self.body)
        if user is None or is_tool_continuation(user):
            return None
        return user_text(user)


def last_user_message(body: JSON) -> JSON | None:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        return "\n".join(parts)
    return ""


def _own_texts(message: JSON) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    return [
        str(block.get("text", ""))
        for block in content or []
        if isinstance(block, dict)
        and block.get("type") == "text"
        and not str(block.get("text", "")).lstrip().startswith(SYSTEM_REMINDER)
    ]


def user_text(message: JSON) -> str:
    """The prompt: the last text block of a user message that is not a `<system-reminder>`.

    After an interrupted turn the CLI merges the next prompt into the same user message
    (`["slow", "[Request interrupted by user]", "next prompt"]`); rules see only "next prompt".
    """
    texts = _own_texts(message)
    return texts[-1].strip() if texts else ""


def full_user_text(message: JSON) -> str:
    """All non-reminder text blocks of a user message, joined by blank lines."""
    return "\n\n".join(t.strip() for t in _own_texts(message))


def is_tool_continuation(message: JSON) -> bool:
    """A user message that only carries tool results (the tool loop goes on).

    A denied tool call ends the turn; the CLI then sends its rejection `tool_result` together
    with the next prompt's text in one user message: that is a new prompt.
    """
    return bool(tool_results(message)) and not _own_texts(message)


def tool_results(message: JSON) -> list[JSON]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _sse(event: str, data: JSON) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class FakeAnthropic:
    """The fake API server. Use as a context manager; `base_url` is valid inside it."""

    def __init__(
        self,
        *,
        chunk_size: int = 16,
        default_delay: float = 0.0,
        usage: dict[str, int] | None = None,
    ) -> None:
        self.chunk_size = chunk_size
        self.default_delay = default_delay
        # token counts every answer reports (input/cache at message_start; an `output_tokens`
        # here replaces the streamed-piece count in message_delta), to check usage reading
        self.usage = dict(usage or {})
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._requests: list[LoggedRequest] = []
        self._unknown: list[str] = []
        self._tool_rules: dict[str, Rule] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # --- scripting -------------------------------------------------------------------------

    def on(
        self,
        match: Callable[[str], bool] | str,
        reply: Answer | AnswerFn,
        *,
        delay: float = 0.0,
        gate: threading.Event | None = None,
        after_tool: Callable[[str], str] = default_after_tool,
        times: int | None = None,
        chunk_delay: float = 0.0,
    ) -> Rule:
        """Add a rule (first match wins). A str `match` means "user text equals it".

        `delay` seconds pass before the answer starts streaming; with `gate`, the answer waits
        until the event is set (or the server stops). `chunk_delay` seconds pass between streamed
        text pieces (`chunk_size` characters each), to keep the CLI busy while text arrives. The
        client may disconnect meanwhile (Escape in the CLI).
        """
        if isinstance(match, str):
            match = match.__eq__
        rule = Rule(
            match,
            reply,
            delay=delay,
            gate=gate,
            after_tool=after_tool,
            times=times,
            chunk_delay=chunk_delay,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def message_requests(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.is_messages]

    @property
    def unknown_paths(self) -> list[str]:
        with self._lock:
            return list(self._unknown)

    def user_texts(self) -> list[str]:
        """User prompts seen by `/v1/messages`, in order (tool-result turns left out)."""
        return [t for r in self.message_requests if (t := r.user_text) is not None]

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeAnthropic is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-anthropic", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"fake Anthropic API did not start: {failure}")

    def stop(self) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(10)
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: JSON | None = None
        if request.can_read_body:
            raw = await request.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
        logged = LoggedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
        )
        path = request.path.rstrip("/") or "/"
        with self._lock:
            self._requests.append(logged)
            known = (request.method, path) in {
                ("POST", "/v1/messages"),
                ("POST", "/v1/messages/count_tokens"),
                ("GET", "/v1/models"),
                ("HEAD", "/"),
                ("GET", "/"),
            }
            if not known:
                self._unknown.append(f"{request.method} {request.path_qs}")
        if request.method == "POST" and path == "/v1/messages":
            return await self._messages(request, body or {})
        if path == "/v1/messages/count_tokens":
            return web.json_response({"input_tokens": _estimate_tokens(body or {})})
        if path == "/v1/models":
            return web.json_response(
                {
                    "data": [_model_entry(m) for m in MODELS],
                    "has_more": False,
                    "first_id": MODELS[0],
                    "last_id": MODELS[-1],
                }
            )
        if request.method == "HEAD":
            return web.Response(status=200)
        return web.json_response({})

    def _pick(self, text: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                try:
                    matched = rule.match(text)
                except Exception:
                    matched = False
                if matched:
                    rule.hits += 1
                    return rule
        return None

    async def _messages(self, request: web.Request, body: JSON) -> web.StreamResponse:
        user = last_user_message(body)
        results = tool_results(user) if user else []
        rule: Rule | None
        answer: Answer
        if user is not None and is_tool_continuation(user):
            result_text = "\n".join(_text_of(r.get("content")) for r in results)
            with self._lock:
                rule = self._tool_rules.pop(str(results[-1].get("tool_use_id")), None)
            answer = (rule.after_tool if rule else default_after_tool)(result_text)
            rule = None  # the delay applies to the first answer only
        else:
            text = user_text(user) if user else ""
            rule = self._pick(text)
            answer = rule.answer(text) if rule else f"echo: {text}"
        delay = rule.delay if rule else self.default_delay
        chunk_delay = rule.chunk_delay if rule else 0.0
        if delay:
            await asyncio.sleep(delay)
        if rule is not None and rule.gate is not None:
            gate = rule.gate
            assert self._stopping is not None
            while not gate.is_set() and not self._stopping.is_set():
                await asyncio.sleep(0.05)
        if isinstance(answer, ApiError):
            return web.json_response(
                answer.body,
                status=answer.status,
                headers={"request-id": f"req_{uuid.uuid4().hex[:24]}", "retry-after": "0"},
            )
        model = str(body.get("model") or MODELS[0])
        tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
        if isinstance(answer, ToolCall) and rule is not None:
            with self._lock:
                self._tool_rules[tool_id] = rule
        if body.get("stream") is False:
            return web.json_response(_message_json(model, answer, tool_id))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "request-id": f"req_{uuid.uuid4().hex[:24]}",
            }
        )
        await response.prepare(request)
        try:
            async for chunk in self._events(model, answer, tool_id, chunk_delay):
                await response.write(chunk)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _events(
        self, model: str, answer: str | ToolCall, tool_id: str, chunk_delay: float = 0.0
    ) -> AsyncIterator[bytes]:
        usage = {
            "input_tokens": 10,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
        }
        usage.update({k: v for k, v in self.usage.items() if k != "output_tokens"})
        yield _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
        )
        yield _sse("ping", {"type": "ping"})
        text = answer.text if isinstance(answer, ToolCall) else answer
        index = 0
        output_tokens = 0
        if text or not isinstance(answer, ToolCall):
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": _text_block("")},
            )
            for piece in _chunks(text, self.chunk_size):
                output_tokens += 1
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                await asyncio.sleep(chunk_delay)
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        stop_reason = "end_turn"
        if isinstance(answer, ToolCall):
            stop_reason = "tool_use"
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": answer.name,
                        "input": {},
                    },
                },
            )
            for piece in _chunks(json.dumps(answer.input), self.chunk_size):
                output_tokens += 1
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.usage.get("output_tokens", max(output_tokens, 1))},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})


MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]


def _model_entry(model: str) -> JSON:
    return {
        "type": "model",
        "id": model,
        "display_name": model,
        "created_at": "2025-01-01T00:00:00Z",
    }


def _text_block(text: str) -> JSON:
    return {"type": "text", "text": text}


def _message_json(model: str, answer: str | ToolCall, tool_id: str) -> JSON:
    content: list[JSON] = []
    text = answer.text if isinstance(answer, ToolCall) else answer
    if text or not isinstance(answer, ToolCall):
        content.append(_text_block(text))
    if isinstance(answer, ToolCall):
        content.append(
            {"type": "tool_use", "id": tool_id, "name": answer.name, "input": answer.input}
        )
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if isinstance(answer, ToolCall) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _estimate_tokens(body: JSON) -> int:
    return max(1, len(json.dumps(body)) // 4)
