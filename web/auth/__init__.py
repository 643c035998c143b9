"""Authentication per audience: API keys (public API), ID tokens (admin), proxy signatures
(storefront), HMACs (webhooks and Flow actions: body_hmac). Each runs before anything else
in the request is read."""
