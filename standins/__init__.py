"""Local stand-ins for the services the app talks to, judged by the vendors' own published
contracts (Shopify's Admin GraphQL schema, …): the tests' respx routes, bench/ and a local demo
serve the same code, so none of them can accept a request the real service would refuse."""
