"""Numbers over the data: the admin dashboard (`dashboard`, per shop), the summaries it and the
customer lists read instead of scanning a big shop (`ledger_rollup`, `customer_counts`), each
reward's redemptions (`rewards`), and the operator's metrics (`metrics`, every shop). Nothing
here writes the data itself; a read may move a summary forward (the rollup's watermark) or fold
its rows, never change a figure."""
