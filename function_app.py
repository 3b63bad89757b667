"""The Functions entry point: registers one blueprint per concern, nothing else."""

import azure.functions as func

from handlers import ml_events, private_endpoints, retraining, scoring, sweep, workspaces

# HTTP functions are anonymous at function level: App Service authentication (Entra ID, in
# infra/) authenticates callers in front of the app, and handlers/scoring.py authorises them.
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for handler in (private_endpoints, workspaces, sweep, ml_events, retraining, scoring):
    app.register_functions(handler.bp)
