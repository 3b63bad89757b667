"""The app's own shared code: settings, planning, Azure adapters, reconcilers, ledger."""
