"""Scoring over HTTP: its contract, request validation and input rules (pure); the starter."""
