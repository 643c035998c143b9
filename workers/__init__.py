"""The arq worker: thin job functions over loyalty services, and WorkerSettings."""
