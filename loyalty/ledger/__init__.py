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
- `expiry_pg`, `approvals_pg`: the PostgreSQL rounds of loyalty.lifecycle's expiry (with its
  notices) and approvals, thousands of lots or entries in one statement after one lock;
- `award_batch`: the award API's group commit, concurrent awards written a batch at a time:
  `award_batch_pg` as one statement (a special, set-based path, see its docstring),
  `award_batch_sqlite` as one transaction run in SQLite's connection thread (the statements
  of `entries`, `balances`, `activity` and the outbox, one savepoint per award).

tests/test_architecture.py fails if any of those tables is written outside this package.
"""
