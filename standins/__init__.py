"""Stand-ins for Shopify and the marketing platforms, judged by the vendors' published contracts
(used by tests, bench/ and the demo)."""
