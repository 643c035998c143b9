"""Read-only numbers over the data: the admin dashboard (`dashboard`, per shop) and the
operator's metrics (`metrics`, every shop). Nothing here writes."""
