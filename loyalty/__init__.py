"""Loyalty core: models, services, clients. Imports neither Starlette nor arq."""
