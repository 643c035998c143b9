"""Async httpx clients for the marketing platforms (Klaviyo, Omnisend, Postscript): request
shapes, headers and API versions pinned per platform, paced within each platform's published
limits, with one retry policy for 429s, 5xx and timeouts (loyalty.partners.transport).

Also what a shop connects to them: its integrations (`integrations`: keys stored encrypted,
connection tests, outcomes) and the pacing of every call within the limits (`pacing`)."""
