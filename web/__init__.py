"""The Starlette app: one route module per audience, auth per audience, JSON:API errors."""
