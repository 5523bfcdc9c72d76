"""The closed-form stack: forward processes, the empirical score, samplers, and the
dynamics and regularization experiments built on them (families A-G)."""
