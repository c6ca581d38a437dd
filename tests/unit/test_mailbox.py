from __future__ import annotations

import threading
import time

import pytest

from bridge.mailbox import LatestFrameMailbox, MailboxClosed, OneSlotHandoff


def test_latest_frame_wins_and_drops_are_counted():
    box: LatestFrameMailbox[int] = LatestFrameMailbox()
    assert box.put(1) is None
    assert box.put(2) == 1  # 1 displaced
    assert box.put(3) == 2
    assert box.take(0) == 3
    assert box.take(0) is None
    assert box.dropped_total == 2
    assert box.take_unreported_drops() == 2
    assert box.take_unreported_drops() == 0
    box.add_drops(3)
    assert box.dropped_total == 5 and box.take_unreported_drops() == 3


def test_take_waits_for_a_frame_from_another_thread():
    box: LatestFrameMailbox[str] = LatestFrameMailbox()
    threading.Timer(0.05, box.put, args=("frame",)).start()
    t0 = time.monotonic()
    assert box.take(2.0) == "frame"
    assert 0.03 < time.monotonic() - t0 < 1.0


def test_close_wakes_waiters_and_refuses_puts():
    box: LatestFrameMailbox[int] = LatestFrameMailbox()
    errors = []

    def waiter():
        try:
            box.take(5.0)
        except MailboxClosed:
            errors.append("closed")

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    box.close()
    t.join(1.0)
    assert errors == ["closed"]
    with pytest.raises(MailboxClosed):
        box.put(1)


def test_one_slot_handoff_blocks_the_producer_until_taken():
    slot: OneSlotHandoff[int] = OneSlotHandoff()
    slot.put(1)
    done = threading.Event()

    def producer():
        slot.put(2)  # must wait: the slot is full
        done.set()

    threading.Thread(target=producer, daemon=True).start()
    assert not done.wait(0.1)
    assert slot.take(1.0) == 1
    assert done.wait(1.0)
    assert slot.take(1.0) == 2  # nothing lost, order kept


def test_one_slot_handoff_close_releases_a_blocked_producer():
    slot: OneSlotHandoff[int] = OneSlotHandoff()
    slot.put(1)
    outcome = []

    def producer():
        try:
            slot.put(2)
        except MailboxClosed:
            outcome.append("closed")

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.05)
    slot.close()
    t.join(1.0)
    assert outcome == ["closed"]
    with pytest.raises(MailboxClosed):
        slot.take(0)
