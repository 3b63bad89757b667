"""The Functions entry point: registers one blueprint per concern, nothing else."""

import azure.functions as func

from handlers import private_endpoints, sweep, workspaces

# HTTP functions default to function-key auth (AuthLevel.FUNCTION).
app = func.FunctionApp()
app.register_functions(private_endpoints.bp)
app.register_functions(workspaces.bp)
app.register_functions(sweep.bp)
