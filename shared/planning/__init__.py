"""Pure planners: observed state and settings in, a plan with reasons out. No Azure clients."""
