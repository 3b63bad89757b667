"""Scoring over HTTP: the request contract, its validation, problem details, the OpenAPI
description (all pure), and the service that submits and follows batch scoring jobs."""
