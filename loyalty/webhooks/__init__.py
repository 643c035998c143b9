"""Shopify webhooks: each verified delivery is stored once (`inbox`), handled later by the
`process_webhooks` job (`process`), one handler module per topic group."""
