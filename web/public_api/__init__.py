"""`/api/v1`, the public API for merchant integrations, as one package: the route table
(routes), the handlers with their response models by concept (customers, points, actions,
catalogue, rewards, rewards_history), the request models (requests), the query and path
parameters (params), the OpenAPI document generated from all of these (openapi, spec), its web
page (docs) and the API keys' rate limits (ratelimit)."""
