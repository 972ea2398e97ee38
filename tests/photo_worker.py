"""A photo worker in a process of its own, for measuring its peak memory.

`python -m tests.photo_worker` runs the main queue's worker in burst mode with the settings
of the environment, then prints its peak resident set (VmHWM, in kB) as its last line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from domain.clock import SystemClock
from guanai.settings import Settings
from guanai.wiring import make_worker


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


async def main() -> None:
    worker = make_worker(Settings(), clock=SystemClock(), burst=True, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()


if __name__ == "__main__":
    asyncio.run(main())
    print(f"VmHWM {peak_rss_kb()}")
