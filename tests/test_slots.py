"""The global limit on runs at once: a run waits for a slot, and holders are asked to give
theirs back (a warm container stops waiting) while another run queues."""

from __future__ import annotations

import asyncio

from pynchy_cli.core.serve.slots import SlotPool


def test_a_waiting_run_asks_the_holder_to_give_its_slot_back():
    async def scenario() -> list[str]:
        pool = SlotPool(1)
        said: list[str] = []
        released = asyncio.Event()

        async def warm_run() -> None:
            async with pool.slot(None, lambda: (said.append("asked"), released.set())):
                said.append("warm holds")
                await released.wait()  # a warm container waits until asked
            said.append("warm gave back")

        async def second_run() -> None:
            await asyncio.sleep(0)  # after the warm run took the slot
            assert pool.in_use == 1
            async with pool.slot(None, lambda: None):
                said.append("second runs")

        await asyncio.wait_for(asyncio.gather(warm_run(), second_run()), 10)
        assert pool.in_use == 0
        return said

    assert asyncio.run(scenario()) == ["warm holds", "asked", "warm gave back", "second runs"]


def test_runs_within_the_limit_are_not_asked():
    async def scenario() -> int:
        pool = SlotPool(2)
        asked = 0

        def give_back() -> None:
            nonlocal asked
            asked += 1

        async with pool.slot(None, give_back), pool.slot(None, give_back):
            assert pool.in_use == 2
        return asked

    assert asyncio.run(scenario()) == 0
