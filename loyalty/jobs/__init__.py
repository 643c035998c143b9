"""Every background job, by name: one `async def <job name>(deps, queue, **kwargs)` per
`JobName`, arq-free, in this package (`grep -rn "def <job name>" loyalty/jobs/` finds it).

- `names`: the names (`JobName`) and the groups the outbox routes by; imported by the core
  services that enqueue, so it imports none of them.
- `sync`, `lifecycle`, `webhooks`, `rewards`: the job functions, thin over their services;
  `follow_ups`: how a job queues the work it leaves owed.
- `registry`: `JOBS`, the one map from name to function, with which jobs take a shop and
  which run periodically. The arq worker (workers/jobs.py) and the embedded default
  (`in_process`) both build from it; neither wraps a job family of its own.
- `periodic`: the embedded default's clock for the periodic jobs.

This module re-exports the names only: importing `loyalty.jobs` pulls in no service.
"""

from __future__ import annotations

from loyalty.jobs.names import CUSTOMER_SYNC_JOBS, PROFILE_SYNC_JOBS, JobName

__all__ = ["CUSTOMER_SYNC_JOBS", "PROFILE_SYNC_JOBS", "JobName"]
