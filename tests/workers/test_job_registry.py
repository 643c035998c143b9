"""The one job registry (loyalty.jobs.registry): every job name has one function of that name
in loyalty/jobs/, the arq worker and the embedded default run exactly the registry, and both
hand a job's follow-ups to their queue (the webhook job's syncs run as jobs of their own)."""

from __future__ import annotations

import ast
import inspect
import json
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from loyalty.jobs import JobName
from loyalty.jobs.in_process import in_process_functions, in_process_periodic
from loyalty.jobs.registry import JOBS, PERIODIC_JOBS, SHOP_JOBS
from loyalty.models import Customer, OutboxIntent, RuleCategory, WebhookEvent
from loyalty.outbox.queue import InProcessJobQueue
from loyalty.settings import Settings
from loyalty.sync.deps import build_job_deps
from loyalty.webhooks.inbox import Delivery, store_delivery
from tests.factories import create_rule, create_shop
from tests.shopify_webhooks import customer_payload, order_payload
from workers.settings import worker_options

JOBS_DIR = Path(__file__).resolve().parents[2] / "loyalty" / "jobs"


def defined_in_jobs_package() -> list[str]:
    """The names of the top-level `async def`s in loyalty/jobs/, repeats kept."""
    return [
        node.name
        for path in sorted(JOBS_DIR.glob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.AsyncFunctionDef)
    ]


class TestRegistry:
    def test_every_job_name_has_one_function_named_like_it_in_loyalty_jobs(self) -> None:
        assert set(JOBS) == set(JobName)
        defined = defined_in_jobs_package()
        for job, function in JOBS.items():
            assert function.__name__ == job.value
            assert function.__module__.startswith("loyalty.jobs.")
            assert defined.count(job.value) == 1, job  # `grep "def <job name>"` finds one

    def test_each_job_is_either_a_shop_job_or_periodic(self) -> None:
        periodic = [job.name for job in PERIODIC_JOBS]
        assert len(set(periodic)) == len(periodic)
        assert set(SHOP_JOBS).isdisjoint(periodic)
        assert set(SHOP_JOBS) | set(periodic) == set(JobName)


class TestRunnersCoverTheRegistry:
    def test_arq_registers_each_job_once_over_its_registered_function(
        self, settings: Settings
    ) -> None:
        options = worker_options(settings.with_overrides(redis_url="redis://x"), manage_db=False)
        functions = {f.name: f.coroutine for f in options["functions"]}
        crons = {c.name: c.coroutine for c in options["cron_jobs"]}
        assert len(functions) == len(options["functions"])
        assert len(crons) == len(options["cron_jobs"])
        assert set(functions) == {str(job) for job in SHOP_JOBS}
        assert set(crons) == {str(job.name) for job in PERIODIC_JOBS}
        for name, coroutine in {**functions, **crons}.items():
            assert inspect.unwrap(coroutine) is JOBS[JobName(name)], name

    async def test_the_embedded_default_runs_the_same_functions(self, settings: Settings) -> None:
        async with httpx.AsyncClient() as http:
            deps = build_job_deps(settings, http)
            functions = in_process_functions(deps)
            queue = InProcessJobQueue(functions)
            periodic = {job.name: job.run for job in in_process_periodic(deps, queue).jobs}
        assert set(functions) == set(SHOP_JOBS)
        # The outbox sweep is the web process's dispatcher's own (OutboxDispatcher.sweep).
        assert set(periodic) | {JobName.SWEEP_OUTBOX} == {job.name for job in PERIODIC_JOBS}
        for name, bound in {**functions, **periodic}.items():
            assert isinstance(bound, partial) and bound.func is JOBS[JobName(name)], name
            assert bound.args[0] is deps


class RecordingInProcessQueue(InProcessJobQueue):
    """The embedded default's queue, keeping the name of every job handed to it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.queued: list[str] = []

    async def enqueue(self, job: JobName, **kwargs: Any) -> None:
        self.queued.append(str(job))
        await super().enqueue(job, **kwargs)


class TestOneWebhookRunner:
    async def test_in_process_the_webhook_job_queues_its_syncs_as_jobs(
        self, settings: Settings
    ) -> None:
        """As under arq: the customer sync a delivery owes is queued, not run inline."""
        shop = await create_shop(domain="one-runner.myshopify.com")
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        payload = order_payload(9101, customer=customer_payload(501), subtotal="7.00")
        stored = await store_delivery(
            delivery=Delivery(
                webhook_id="one-runner-1",
                topic="orders/paid",
                shop_domain=shop.domain,
                body=json.dumps(payload),
            )
        )
        assert stored.is_new
        async with httpx.AsyncClient() as http:
            queue = RecordingInProcessQueue(in_process_functions(build_job_deps(settings, http)))
            await queue.enqueue(JobName.PROCESS_WEBHOOKS, job_id="w", shop_id=shop.id)
            await queue.drain(grace=10)

        assert queue.queued[0] == JobName.PROCESS_WEBHOOKS
        assert sorted(queue.queued[1:]) == [
            JobName.SEND_FLOW_TRIGGERS,
            JobName.SYNC_SHOPIFY_METAFIELDS,
        ]
        assert (await WebhookEvent.get()).processed_at is not None
        assert (await Customer.get(shopify_customer_id=501)).points_balance == 7
        assert await OutboxIntent.filter(completed_at__isnull=True).count() == 0
