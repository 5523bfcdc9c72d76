"""What the workflow shows: figures, the claims table, the paper's values and tables, and
the summary numbers they share."""
