"""Local tooling around the app: host emulation, the operator CLI, the offline run."""
