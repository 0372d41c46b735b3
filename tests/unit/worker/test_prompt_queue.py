"""worker/prompt_queue.py: one prompt at a time, each message once, retries at the front."""

from __future__ import annotations

from vai.protocol.messages import Author, ChatMessage
from vai.worker.prompt_queue import PromptQueue
from vai.worker.session_state import InFlight


def message(message_id: int) -> ChatMessage:
    return ChatMessage(
        message_id=message_id, channel_id=1, author=Author(id=2, name="u"), content=f"m{message_id}"
    )


def test_messages_are_taken_one_at_a_time_in_order() -> None:
    queue = PromptQueue()
    assert queue.peek() is None and queue.take("x", 0) is None and len(queue) == 0
    assert queue.offer(message(1)) and queue.offer(message(2))
    assert len(queue) == 2 and queue.peek() == message(1)
    taken = queue.take("text 1", 40)
    assert taken == InFlight(message=message(1), text="text 1", transcript_offset=40)
    assert queue.current is taken and len(queue) == 2
    assert queue.peek() is None and queue.take("text 2", 0) is None  # one in flight at a time
    assert queue.finish() is taken and queue.current is None and len(queue) == 1
    assert queue.peek() == message(2)
    assert queue.finish() is None  # nothing in flight


def test_a_message_is_queued_once_however_often_it_is_delivered() -> None:
    queue = PromptQueue()
    assert queue.offer(message(1))
    assert not queue.offer(message(1))
    queue.take("m1", 0)
    queue.finish()
    assert not queue.offer(message(1))  # finished: the supervisor's resend is dropped too
    assert len(queue) == 0


def test_a_retried_message_goes_back_to_the_front() -> None:
    queue = PromptQueue()
    for message_id in (1, 2):
        queue.offer(message(message_id))
    queue.take("m1", 0)
    queue.retry()
    assert queue.current is None and queue.peek() == message(1) and len(queue) == 2
    queue.retry()  # nothing in flight: nothing to do
    assert len(queue) == 2


def test_restore_takes_back_a_dead_workers_message_and_finished_turns() -> None:
    queue = PromptQueue()
    in_flight = InFlight(message=message(3), text="m3", transcript_offset=7, submitted=True)
    queue.restore(in_flight, finished=[1, 2])
    assert queue.current is in_flight and len(queue) == 1
    assert not any(queue.offer(message(i)) for i in (1, 2, 3))  # resent by the supervisor
    assert queue.offer(message(4)) and queue.peek() is None  # waits behind the one in flight
    queue.restore(None, finished=[])
    assert queue.current is None and queue.peek() == message(4)
