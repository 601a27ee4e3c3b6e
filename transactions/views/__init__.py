"""Investigator pages of the transactions app: batches and the transaction list."""
