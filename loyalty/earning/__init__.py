"""Earning: awarding points, and (later) approving and expiring them."""
