"""Pushing a customer's loyalty state to where it is shown: Shopify metafields, Klaviyo,
Omnisend and Postscript. Each job processes its kind's outbox intents for one shop."""
