"""A shop and what its merchant configures: finding it by domain (`domains`), its programme
settings (`programme`), its public API keys (`api_keys`) and the demo shop seed (`demo`)."""
