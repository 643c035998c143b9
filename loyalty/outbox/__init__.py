"""The transactional outbox: side effects written as rows in the change's own transaction,
pushed to the job queue after commit, processed idempotently, and swept until done."""
