"""Benchmarks of the app: cold start, the cost of one event, a burst of events.

Each benchmark is its own process (`python -m bench.<name>`), because the app reads its settings
once per process; `python -m bench` runs them all in order.
"""
