"""The neural-network stack: small MLP score models, their training and their evaluation
(families H-J)."""
