"""The Functions entry point: registers one blueprint per concern, nothing else."""

import azure.functions as func

from handlers import ml_events, private_endpoints, retraining, scoring, sweep, workspaces

# HTTP functions are anonymous at function level: App Service authentication (Entra ID, in
# infra/) authenticates callers in front of the app, and handlers/scoring.py authorises them.
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(private_endpoints.bp)
app.register_functions(workspaces.bp)
app.register_functions(sweep.bp)
app.register_functions(ml_events.bp)
app.register_functions(retraining.bp)
app.register_functions(scoring.bp)
