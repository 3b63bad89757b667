"""Adapters: the only modules that talk to Azure. Each turns SDK calls into domain types."""
