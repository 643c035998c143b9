"""The arq worker: the registry's jobs (loyalty.jobs) under arq, and WorkerSettings."""
