"""Reconcilers: observe → plan → apply → record, one per concern, shared by every trigger."""
