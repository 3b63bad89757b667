"""The cost of retraining: requests per drift event and per completion event, warm time per event,
and the first drift event in a fresh process (import, first submission): time and peak RSS.

Runs the registered `on_ml_event` function (through `tools.host`, as the Functions host would)
against the Azure simulator and Azurite, both started in this process, with the scene of
`tools.scene` and `tools.retraining_scene` (retraining on in mlw-prod, the outcome topic set).

- A drift event that submits: the cooldown is 0 and the previous job is completed before each.
- A debounced drift event: inside the cooldown, settled by the claim alone.
- A completion event: the retraining job is read, and batch scoring starts.
- With promotion on (`PROMOTION_METRIC`): a completion event whose model is better (registered,
  deployed, made the default, then scored on) and one whose model is worse (scored on the
  current deployment): requests and time from the completion event to scoring started.

    python -m bench.retraining_cost [--json] [--check]
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from bench._common import (
    REPO_ROOT,
    LocalAzure,
    Target,
    apply_settings,
    arguments,
    change_settings,
    emit,
    local_azure,
    machine,
    quiet_logging,
    render,
    route_counts,
    route_rows,
    summary_ms,
    targets_text,
)
from shared.ml_events import APP_TAG
from tools import host, scene
from tools import retraining_scene as rs

FUNCTION = "on_ml_event"
SUBMITTING_EVENTS = 10
DEBOUNCED_EVENTS = 50
COMPLETION_EVENTS = 10

# Requests per event, by simulator route (tokens not counted).
WANTED_DRIFT = {
    # The last claim's job (still running?), then the new claim's name (submitted already?).
    "ml.job.get": 2,
    "ml.component.version.list": 1,  # azure-ai-ml: name@latest
    "aml.compute.get": 1,  # azure-ai-ml: the compute's ARM ID
    # azure-ai-ml also GETs the workspace (its component-resolution cache key), once per process.
    "ml.job.put": 1,
    "eventgrid.publish": 1,  # the outcome event
}
WANTED_COMPLETION = {
    "ml.job.get": 1,  # the job is read, the event's status is not trusted
    "ml.batch_endpoint.get": 1,  # the scoring URI
    "ml.scoring.invoke": 1,
    "eventgrid.publish": 1,
}
# Per completion event with promotion on: the promoted path does every step in one delivery
# (the simulator's deployment provisions on its first read, Azure's takes minutes: see README).
PROMOTION = {"PROMOTION_METRIC": "accuracy", "PROMOTION_MODEL_NAME": "churn-model"}
# README's table: scoring started after 20 requests (promoted) or 10 (not promoted).
TARGET_PROMOTED_REQUESTS = 20
TARGET_NOT_PROMOTED_REQUESTS = 10
TARGET_SUBMIT_MEDIAN_MS = 400.0
TARGET_DEBOUNCED_MEDIAN_MS = 50.0
TARGET_COMPLETION_MEDIAN_MS = 150.0
TARGET_FIRST_EVENT_SECONDS = 5.0
TARGET_FIRST_EVENT_RSS_MIB = 200.0

_FIRST_EVENT = """
import json, resource, sys, time
start = time.perf_counter()
from tools import host
host.indexed()
imported = time.perf_counter() - start
host.deliver_event("on_ml_event", json.loads(sys.argv[1]))
total = time.perf_counter() - start
loaded = "azure.ai.ml" in sys.modules
print(json.dumps({"import_s": imported, "total_s": total, "azure_ai_ml_loaded": loaded,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _timed(action: Callable[[], None]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _deliver(event: Mapping[str, Any]) -> None:
    host.deliver_event(FUNCTION, dict(event))


def _retraining_jobs(azure: LocalAzure) -> list[dict[str, Any]]:
    return [
        job
        for job in azure.sim.ml.jobs(scene.PROD)
        if job["properties"]["tags"].get(APP_TAG) == "retraining"
    ]


def _complete_all(azure: LocalAzure) -> None:
    for job in _retraining_jobs(azure):
        if job["properties"]["status"] != "Completed":
            azure.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")


def _first_event(azure: LocalAzure) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AZUREML_CURRENT_CLOUD", None)
    child = subprocess.run(
        [sys.executable, "-c", _FIRST_EVENT, json.dumps(rs.monitor_breach_event())],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    _complete_all(azure)
    return result


def _count(azure: LocalAzure, action: Callable[[], None]) -> list[Any]:
    azure.sim.reset_counts()
    action()
    return [r for r in azure.sim.requests if r.route != "token"]


def _promotion_costs(
    azure: LocalAzure, completion_event: Callable[[], dict[str, Any]]
) -> tuple[list[Any], list[float], list[Any], list[float]]:
    """With promotion on: requests of one completion event and times of more, first with
    models each better than the last (promoted), then worse ones (scored on the current)."""
    change_settings(**PROMOTION)
    azure.sim.ml.promotion.add_model_version(
        scene.PROD, "drift-model", "2", properties={"accuracy": "0.5"}
    )
    accuracy = iter(0.6 + i / 1000 for i in range(COMPLETION_EVENTS + 2))

    def promotion_event(better: bool) -> dict[str, Any]:
        event = completion_event()
        value = next(accuracy) if better else 0.1
        azure.sim.ml.promotion.log_metric(scene.PROD, event["data"]["runId"], "accuracy", value)
        return event

    _deliver(promotion_event(True))  # this settings value's first event: its runtime
    measured: list[Any] = []
    for better in (True, False):
        counted = promotion_event(better)
        measured.append(_count(azure, functools.partial(_deliver, counted)))
        times = []
        for _ in range(COMPLETION_EVENTS):
            event = promotion_event(better)
            times.append(_timed(functools.partial(_deliver, event)))
        measured.append(times)
    change_settings(**{name: "" for name in PROMOTION})
    return measured[0], measured[1], measured[2], measured[3]


def main(argv: list[str] | None = None) -> int:
    args = arguments("Requests and time per retraining event.", argv)
    quiet_logging()
    with local_azure() as azure:
        scene.seed(azure.sim)
        rs.seed_retraining(azure.sim)
        apply_settings(azure, **rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
        first = _first_event(azure)

        # Warm up this process (azure-ai-ml's import and first submission), then count one.
        _deliver(rs.monitor_breach_event())
        _complete_all(azure)
        drift_requests = _count(azure, lambda: _deliver(rs.monitor_breach_event()))
        _complete_all(azure)
        submit_times = []
        for _ in range(SUBMITTING_EVENTS):
            submit_times.append(_timed(lambda: _deliver(rs.monitor_breach_event())))
            _complete_all(azure)

        # Completion: one counted, then timed ones (each after a fresh submission).
        def completion_event() -> dict[str, Any]:
            _deliver(rs.monitor_breach_event())
            job = _retraining_jobs(azure)[0]
            azure.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
            return rs.job_finished_event(job["name"], tags=job["properties"]["tags"])

        counted = completion_event()
        completion_requests = _count(azure, lambda: _deliver(counted))
        completion_times = []
        for _ in range(COMPLETION_EVENTS):
            event = completion_event()
            completion_times.append(_timed(functools.partial(_deliver, event)))

        promoted_requests, promoted_times, not_promoted_requests, not_promoted_times = (
            _promotion_costs(azure, completion_event)
        )

        # Debounced: inside the cooldown, the claim settles it.
        change_settings(RETRAIN_COOLDOWN_MINUTES="360")
        _deliver(rs.monitor_breach_event())  # this settings value's first event: its runtime
        debounced_requests = _count(azure, lambda: _deliver(rs.monitor_breach_event()))
        debounced_times = [
            _timed(lambda: _deliver(rs.dataset_drift_event())) for _ in range(DEBOUNCED_EVENTS)
        ]

    submit = summary_ms(submit_times)
    completion = summary_ms(completion_times)
    debounced = summary_ms(debounced_times)
    promoted = summary_ms(promoted_times)
    not_promoted = summary_ms(not_promoted_times)
    drift_counts = {r: sum(1 for q in drift_requests if q.route == r) for r in WANTED_DRIFT}
    completion_counts = {
        r: sum(1 for q in completion_requests if q.route == r) for r in WANTED_COMPLETION
    }
    rss_mib = first["maxrss_kib"] / 1024
    targets = [
        Target(
            "drift event (submits): requests per route",
            f"{len(drift_requests)} requests",
            "as in the table",
            drift_counts == WANTED_DRIFT and len(drift_requests) == sum(WANTED_DRIFT.values()),
        ),
        Target(
            "completion event (starts scoring): requests per route",
            f"{len(completion_requests)} requests",
            "as in the table",
            completion_counts == WANTED_COMPLETION
            and len(completion_requests) == sum(WANTED_COMPLETION.values()),
        ),
        Target(
            "completion event, model promoted: requests to scoring started",
            f"{len(promoted_requests)} requests",
            f"<= {TARGET_PROMOTED_REQUESTS}",
            len(promoted_requests) <= TARGET_PROMOTED_REQUESTS
            and sum(1 for q in promoted_requests if q.route == "ml.scoring.invoke") == 1,
        ),
        Target(
            "completion event, model not promoted: requests to scoring started",
            f"{len(not_promoted_requests)} requests",
            f"<= {TARGET_NOT_PROMOTED_REQUESTS}",
            len(not_promoted_requests) <= TARGET_NOT_PROMOTED_REQUESTS
            and sum(1 for q in not_promoted_requests if q.route == "ml.scoring.invoke") == 1,
        ),
        Target(
            "debounced drift event: Azure requests",
            str(len(debounced_requests)),
            "0",
            not debounced_requests,
        ),
        Target(
            "drift event (submits): warm median",
            f"{submit['median_ms']:.1f} ms",
            f"<= {TARGET_SUBMIT_MEDIAN_MS:.0f} ms",
            submit["median_ms"] <= TARGET_SUBMIT_MEDIAN_MS,
        ),
        Target(
            "debounced drift event: warm median",
            f"{debounced['median_ms']:.1f} ms",
            f"<= {TARGET_DEBOUNCED_MEDIAN_MS:.0f} ms",
            debounced["median_ms"] <= TARGET_DEBOUNCED_MEDIAN_MS,
        ),
        Target(
            "completion event: warm median",
            f"{completion['median_ms']:.1f} ms",
            f"<= {TARGET_COMPLETION_MEDIAN_MS:.0f} ms",
            completion["median_ms"] <= TARGET_COMPLETION_MEDIAN_MS,
        ),
        Target(
            "first drift event in a fresh process: time",
            f"{first['total_s']:.2f} s (import {first['import_s']:.2f} s)",
            f"<= {TARGET_FIRST_EVENT_SECONDS:.0f} s",
            first["total_s"] <= TARGET_FIRST_EVENT_SECONDS,
        ),
        Target(
            "first drift event in a fresh process: peak RSS",
            f"{rss_mib:.0f} MiB",
            f"<= {TARGET_FIRST_EVENT_RSS_MIB:.0f} MiB",
            rss_mib <= TARGET_FIRST_EVENT_RSS_MIB,
        ),
    ]
    data = {
        "machine": machine(),
        "first_drift_event": first,
        "drift_event_requests": route_counts(drift_requests),
        "completion_event_requests": route_counts(completion_requests),
        "debounced_event_requests": route_counts(debounced_requests),
        "submitting_drift_event": submit,
        "debounced_drift_event": debounced,
        "completion_event": completion,
        "promoted_completion_event_requests": route_counts(promoted_requests),
        "not_promoted_completion_event_requests": route_counts(not_promoted_requests),
        "promoted_completion_event": promoted,
        "not_promoted_completion_event": not_promoted,
        "targets": [t.as_json() for t in targets],
    }
    timing_rows = [
        [name, s["n"], s["median_ms"], s["p90_ms"], s["min_ms"], s["max_ms"]]
        for name, s in (
            ("drift event, submits", submit),
            ("drift event, debounced", debounced),
            ("completion event, starts scoring", completion),
            ("completion event, promotes, then scores", promoted),
            ("completion event, not promoted, scores", not_promoted),
        )
    ]
    text = "\n\n".join(
        [
            "== Requests per drift event that submits ==",
            render(
                ["route", "method", "count", "per event", "note"],
                route_rows(drift_requests, wanted=WANTED_DRIFT),
            ),
            "== Requests per completion event ==",
            render(
                ["route", "method", "count", "per event", "note"],
                route_rows(completion_requests, wanted=WANTED_COMPLETION),
            ),
            "== Requests per completion event, model promoted ==",
            render(
                ["route", "method", "count", "per event", "note"],
                route_rows(promoted_requests),
            ),
            "== Requests per completion event, model not promoted ==",
            render(
                ["route", "method", "count", "per event", "note"],
                route_rows(not_promoted_requests),
            ),
            "== Warm time per event ==",
            render(["event", "n", "median ms", "p90 ms", "min ms", "max ms"], timing_rows),
            "== Targets ==",
            targets_text(targets),
        ]
    )
    emit(args.json, text, data)
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
