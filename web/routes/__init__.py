"""One module per audience, each exposing `routes`."""
