"""Customers of a shop as the programme knows them."""
