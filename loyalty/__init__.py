"""Loyalty core: models, services, clients. Imports neither Starlette nor arq.

One package per concept; imports point down this list (import-linter checks it, see
[tool.importlinter] in pyproject.toml), never up and never round in a cycle:

    jobs        every background job by name, wired to the services below (the top)
    lifecycle   approvals, expiry, birthdays/anniversaries
    webhooks    Shopify deliveries stored once, then handled per topic
    sync        customers' state pushed to Shopify metafields and the marketing platforms
    earning     awards, purchases, reversals, adjustments, custom actions, the rule catalogue
    shopify     tokens, the Admin API client, the customer backfill
    customers   enrolment, lookup, profiles, tags, exclusion, privacy requests, storefront view
    tiers       VIP tiers: configuration, placement of one customer, reassignment, preview
    partners    Klaviyo/Omnisend/Postscript clients, pacing, a shop's integrations
    shops       a shop by domain, its programme settings, API keys, the demo seed
    reports     the admin dashboard's and the operator's numbers (read only)
    outbox      side effects as rows, dispatched after commit and swept until done
    models      the tables
    (root)      foundations: settings, clock, errors, db, sql, ids, crypto, paging, points, ...

`loyalty.jobs.names` (the job names) is a leaf every package may import to enqueue.
"""
