"""Crash safety: kill -9 `serve` at random points, restart, repeat. Every message gets
answered, none twice."""

from __future__ import annotations

import random
import time

from servehelp import Serve


def test_kill9_at_random_points_loses_and_doubles_nothing(pynchy_home):
    rng = random.Random(20261124)
    service = Serve(pynchy_home).start()
    sent: list[int] = []
    texts: list[str] = []
    try:
        for round_ in range(12):
            for i in range(rng.randint(1, 3)):
                texts.append(f"message {round_}.{i}")
                sent.append(service.send("main", texts[-1])["message"]["id"])
            time.sleep(rng.uniform(0.0, 0.6))  # somewhere in a run: before, during, after
            service.kill9()
            service.start()
        final = service.wait_for(
            lambda: (
                (r := service.get("/groups/main/messages"))["last_answered_id"] >= sent[-1] and r
            ),
            "every message answered",
        )
    finally:
        service.kill9()
    answers = [m for m in final["messages"] if m["sender_kind"] == "assistant"]
    watermarks = [m["reply_to"] for m in answers]
    # No message answered twice: each reply covers messages after the previous reply's.
    assert watermarks == sorted(set(watermarks)), watermarks
    # Every message answered: each sent id is covered by a reply (or a notice of failure).
    notices = [m for m in final["messages"] if m["sender_kind"] == "host"]
    assert not notices, notices
    assert watermarks[-1] == sent[-1]
    covered = 0
    for watermark in watermarks:
        assert watermark > covered
        covered = watermark
    for message_id in sent:
        assert any(message_id <= w for w in watermarks)
    # And each message's text is in exactly one reply (the echo model repeats its prompt).
    for text in texts:
        hits = sum(
            1
            for m in answers
            for line in m["content"].splitlines()
            if line.endswith(f"ann: {text}")
        )
        assert hits == 1, (text, hits)
