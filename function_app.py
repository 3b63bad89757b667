"""The Functions entry point: registers one blueprint per concern, nothing else."""

import azure.functions as func

from handlers import ml_events, private_endpoints, retraining, sweep, workspaces

# HTTP functions default to function-key auth (AuthLevel.FUNCTION).
app = func.FunctionApp()
app.register_functions(private_endpoints.bp)
app.register_functions(workspaces.bp)
app.register_functions(sweep.bp)
app.register_functions(ml_events.bp)
app.register_functions(retraining.bp)
