"""Function blueprints, one per concern. Function names are a contract with `infra/`."""
