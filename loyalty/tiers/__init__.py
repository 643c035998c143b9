"""VIP tiers, one concept in one package.

- `configuration`: the merchant's tiers (list, create, update, delete), each edit a `TierEdit`.
- `assignment`: set-based re-placement of a shop's customers after the tiers change.
- `placement`: one customer's tier, recalculated after their lifetime points change (the one
  `TierChange`: a customer moving from one tier to another).
- `preview`: how many customers each tier holds, as it stands or with a threshold changed.

Guarantees: a customer's tier is the highest one whose threshold their lifetime points reach.
"""
