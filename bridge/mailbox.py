"""Hand-off slots between threads of a stream's pipeline.

The pipeline has exactly one backpressure rule: frames are dropped only at the
entrance.  ``LatestFrameMailbox`` holds at most one waiting frame and a newer
frame replaces an older one (counted as a drop).  Inside the pipeline, stages
hand frames on through ``OneSlotHandoff``, which makes the producer wait while
the slot is full, so a frame that entered the pipeline is never lost and stage
N+1 can work on frame k while stage N works on frame k+1.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class MailboxClosed(Exception):
    """Raised by ``take``/``put`` once the mailbox has been closed."""


class _OneSlot(Generic[T]):
    """The slot both kinds share: a waiting item, a condition, closing."""

    _what = "mailbox"

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._item: T | None = None
        self._has_item = False
        self._closed = False

    def take(self, timeout_s: float | None = None) -> T | None:
        """Wait for an item; returns None on timeout, raises MailboxClosed once closed and empty."""
        with self._cond:
            if not self._has_item:
                if self._closed:
                    raise MailboxClosed(f"{self._what} is closed")
                self._cond.wait(timeout_s)
                if not self._has_item:
                    if self._closed:
                        raise MailboxClosed(f"{self._what} is closed")
                    return None
            item = self._item
            self._item = None
            self._has_item = False
            self._cond.notify_all()  # a producer waiting for the slot may go on
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._item = None
            self._has_item = False
            self._cond.notify_all()


class LatestFrameMailbox(_OneSlot[T]):
    """One slot; ``put`` never blocks and replaces what is waiting (latest frame wins)."""

    def __init__(self) -> None:
        super().__init__()
        self._dropped_total = 0
        self._dropped_unreported = 0

    def put(self, item: T) -> T | None:
        """Leave ``item``; returns the frame it displaced (already counted as dropped) or None."""
        with self._cond:
            if self._closed:
                raise MailboxClosed("mailbox is closed")
            displaced = self._item if self._has_item else None
            if self._has_item:
                self._dropped_total += 1
                self._dropped_unreported += 1
            self._item = item
            self._has_item = True
            self._cond.notify()
            return displaced

    def add_drops(self, count: int) -> None:
        """Count frames lost elsewhere on this stream (e.g. a result the engine could not take)."""
        with self._cond:
            self._dropped_total += count
            self._dropped_unreported += count

    def restore_unreported_drops(self, count: int) -> None:
        """Drops taken for a RESULT that never left: report them with the next one (not counted twice)."""
        with self._cond:
            self._dropped_unreported += count

    def take_unreported_drops(self) -> int:
        """Drops since the last call (what RESULT.dropped reports)."""
        if not self._dropped_unreported:  # the usual case, read without the lock: a drop counted right now
            return 0                      # is reported with the next RESULT instead
        with self._cond:
            count = self._dropped_unreported
            self._dropped_unreported = 0
            return count

    @property
    def dropped_total(self) -> int:
        with self._cond:
            return self._dropped_total



class OneSlotHandoff(_OneSlot[T]):
    """One slot between two stages; ``put`` waits while the slot is full (backpressure)."""

    _what = "hand-off"

    def put(self, item: T) -> None:
        with self._cond:
            while self._has_item and not self._closed:
                self._cond.wait()
            if self._closed:
                raise MailboxClosed("hand-off is closed")
            self._item = item
            self._has_item = True
            self._cond.notify_all()
