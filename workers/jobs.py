"""arq jobs: each takes ids, opens one unit of work, calls one domain service.

Jobs may run more than once; every one of them is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from domain import housekeeping
from workers.context import unit_of_work

log = logging.getLogger(__name__)


async def forget_old_updates(ctx: dict[str, Any]) -> int:
    async with unit_of_work(ctx) as uow:
        count = await housekeeping.forget_old_updates(uow.session, now=ctx["clock"].now())
        await uow.commit()
    log.info("forgot %d processed update ids", count)
    return count
