"""How every sync job starts: the shop it is for and a runner (loyalty.sync.batch) bound to
the job, the shop and the process's stop signal, so a stopping worker ends every job between
two customers alike."""

from __future__ import annotations

from typing import NamedTuple

from loyalty.jobs import JobName
from loyalty.models import Shop
from loyalty.sync.batch import RUN_BUDGET_SECONDS, Runner, runner
from loyalty.sync.deps import JobDeps


class ShopRun(NamedTuple):
    """How every sync job starts: the shop it is for (None when it is gone), its name for the
    logs, and the runner bound to the job, the shop and the process's stop signal."""

    shop: Shop | None
    label: str
    run: Runner


async def open_run(
    deps: JobDeps, job: JobName, shop_id: int, *, budget: float = RUN_BUDGET_SECONDS
) -> ShopRun:
    shop = await Shop.get_or_none(id=shop_id)
    label = shop.domain if shop is not None else str(shop_id)
    run = runner(
        job=job,
        shop_id=shop_id,
        shop_label=label,
        settings=deps.settings,
        budget=budget,
        stopping=deps.stopping,
    )
    return ShopRun(shop, label, run)
