"""The ledger: the only code that writes earning-history entries, customer balances and
activity rows. Use cases (loyalty.earning, loyalty.lifecycle, loyalty.customers, …) decide
what happens; they call the ledger to write it.

- `timing`: an entry's status and given/due/expiry dates (the one copy of that rule);
- `entries`: inserting entries (exactly once per customer and dedupe key), approving and
  rejecting pending ones;
- `lots`: what is left of an approved entry to spend, expire or take back;
- `balances`: crediting and debiting the balance, pending and lifetime counters, with the
  ceiling guard (`ceiling`) and the tier upgrade a credit implies;
- `tiers`, `tier_reassignment`: a customer's tier recalculated, and a shop's customers
  re-placed after its tiers change;
- `redemptions`: spending points on a reward (the conditional debit, `redeemed_points`, lots
  oldest first) and giving them back to the lots they came from;
- `activity`: the one activity-log writer;
- `award_batch_pg`: the award API's PostgreSQL single-statement batch (a special path, see
  its docstring).

tests/test_architecture.py fails if any of those tables is written outside this package.
"""
