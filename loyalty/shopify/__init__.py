"""Shopify: offline tokens and the Admin GraphQL client, on top of the official shopify_app."""
