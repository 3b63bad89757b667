"""Scoring over HTTP: the first request in a fresh process, warm POST and GET, requests per POST.

The simulator and Azurite run in this process; each "first request" child is a fresh Python that
gets the app settings in its environment, imports `function_app` and sends one POST through the
registered `start_scoring` function (as the worker would after a cold start: managed-identity
tokens, the ledger table, the endpoint read, the scoring POST, the records). It reports the time
of import + POST, its own peak RSS, and whether `azure.ai.ml` was imported (it must not be).

    python -m bench.scoring_http [--json] [--check]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from bench._common import (
    REPO_ROOT,
    HttpRequestCounter,
    Target,
    apply_settings,
    arguments,
    emit,
    local_azure,
    machine,
    quiet_logging,
    render,
    route_rows,
    summary_ms,
    targets_text,
)
from tools import host, scene
from tools import scoring_scene as ss

FIRST_RUNS = 9
WARM_UP_RUNS = 2
WARM_REQUESTS = 200
TARGET_FIRST_SECONDS = 0.6
JOBS_URL = f"{ss.APP_URL}/scoring-jobs"
BODY = json.dumps(
    {"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": ss.INPUT}}
).encode()

CHILD = f"""
import json, resource, sys, time, uuid
start = time.perf_counter()
import function_app
from tools import host
imported = time.perf_counter() - start
response = host.call_http(
    "start_scoring", method="POST", url={JOBS_URL!r},
    headers={{"Content-Type": "application/json", **{ss.caller_headers(ss.LOGIC_APP)!r},
              "Idempotency-Key": uuid.uuid4().hex}},
    body={BODY!r},
)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "seconds": seconds, "import_seconds": imported, "status": response.status_code,
    "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "azure_ai_ml": "azure.ai.ml" in sys.modules,
}}))
"""


def _headers(key: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **ss.caller_headers(ss.LOGIC_APP)}
    return {**headers, "Idempotency-Key": key} if key else headers


def _first_request(env: dict[str, str]) -> dict[str, Any]:
    child = subprocess.run(
        # Through a shell, so the child's ru_maxrss is its own (see bench.cold_start).
        ["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, CHILD],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"first-request child failed ({child.returncode}): {child.stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _post(key: str) -> Any:
    return host.call_http(
        "start_scoring", method="POST", url=JOBS_URL, headers=_headers(key), body=BODY
    )


def _get(name: str) -> Any:
    return host.call_http(
        "get_scoring_job",
        method="GET",
        url=f"{JOBS_URL}/{name}",
        headers=_headers(),
        route_params={"job_name": name},
    )


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one report, step by step
    args = arguments(__doc__.splitlines()[0] if __doc__ else "scoring", argv)
    quiet_logging()
    with local_azure() as local:
        sim = local.sim
        scene.seed(sim)
        ss.seed(sim)
        settings = apply_settings(local, **ss.settings_env())
        child_env = {**os.environ, **settings}

        for _ in range(WARM_UP_RUNS):
            _first_request(child_env)
        firsts = [_first_request(child_env) for _ in range(FIRST_RUNS)]

        # Warm, in this process: the first call pays for imports and tokens.
        _post(uuid.uuid4().hex)
        post_seconds, names = [], []
        for _ in range(WARM_REQUESTS):
            began = time.perf_counter()
            response = _post(uuid.uuid4().hex)
            post_seconds.append(time.perf_counter() - began)
            names.append(json.loads(response.get_body())["name"])
        get_seconds = []
        for name in names:
            began = time.perf_counter()
            response = _get(name)
            get_seconds.append(time.perf_counter() - began)
            assert response.status_code == 202
        replay_key = uuid.uuid4().hex
        _post(replay_key)
        replay_seconds = []
        for _ in range(50):
            began = time.perf_counter()
            _post(replay_key)
            replay_seconds.append(time.perf_counter() - began)

        counter = HttpRequestCounter()
        sim.reset_counts()
        with counter.counting():
            _post(uuid.uuid4().hex)
        post_requests = list(sim.requests)
        post_ledger = len(counter.to(local.azurite_netloc))
        counter = HttpRequestCounter()
        sim.reset_counts()
        with counter.counting():
            _get(names[0])
        get_requests = list(sim.requests)
        get_ledger = len(counter.to(local.azurite_netloc))
        counter = HttpRequestCounter()
        sim.reset_counts()
        with counter.counting():
            _post(replay_key)
        replay_requests = list(sim.requests)
        replay_ledger = len(counter.to(local.azurite_netloc))

    first_seconds = [r["seconds"] for r in firsts]
    first = summary_ms(first_seconds)
    imports = summary_ms([r["import_seconds"] for r in firsts])
    # CPU time of the child (interpreter start included): what other work on the machine does
    # not inflate, unlike wall time.
    cpu = summary_ms([r["cpu_seconds"] for r in firsts])
    rss = [r["maxrss_kib"] / 1024 for r in firsts]
    ai_ml = any(r["azure_ai_ml"] for r in firsts)
    statuses = sorted({r["status"] for r in firsts})
    post, get, replay = (
        summary_ms(post_seconds),
        summary_ms(get_seconds),
        summary_ms(replay_seconds),
    )
    targets = [
        Target(
            "first request in a fresh process (import + POST), median",
            f"{first['median_ms'] / 1000:.3f} s",
            f"<= {TARGET_FIRST_SECONDS} s",
            first["median_ms"] / 1000 <= TARGET_FIRST_SECONDS,
        ),
        Target(
            "azure.ai.ml not imported on the POST path",
            "imported" if ai_ml else "not imported",
            "not imported",
            not ai_ml,
        ),
        Target("first requests answered 202", str(statuses), "[202]", statuses == [202]),
    ]
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        load = " ".join(loadavg.read().split()[:3])
    lines = [
        f"Load average at the end: {load} (1, 5, 15 min; {os.cpu_count()} cores)",
        "",
        f"== Scoring over HTTP: first request in {FIRST_RUNS} fresh processes "
        f"(after {WARM_UP_RUNS} warm-up runs) ==",
        "",
        render(
            ["what", "median ms", "p90 ms", "range ms"],
            [
                [
                    "import function_app + POST",
                    f"{first['median_ms']:.0f}",
                    f"{first['p90_ms']:.0f}",
                    f"{first['min_ms']:.0f}-{first['max_ms']:.0f}",
                ],
                [
                    "  of which import",
                    f"{imports['median_ms']:.0f}",
                    f"{imports['p90_ms']:.0f}",
                    f"{imports['min_ms']:.0f}-{imports['max_ms']:.0f}",
                ],
                [
                    "child CPU time (user + sys, whole process)",
                    f"{cpu['median_ms']:.0f}",
                    f"{cpu['p90_ms']:.0f}",
                    f"{cpu['min_ms']:.0f}-{cpu['max_ms']:.0f}",
                ],
            ],
        ),
        f"Peak RSS: median {statistics.median(rss):.1f} MiB, max {max(rss):.1f} MiB; "
        f"azure.ai.ml imported: {'yes' if ai_ml else 'no'}",
        "",
        f"== Warm, {WARM_REQUESTS} requests each ==",
        "",
        render(
            ["request", "median ms", "p90 ms"],
            [
                [
                    "POST (new Idempotency-Key: claim, submit, record)",
                    f"{post['median_ms']:.1f}",
                    f"{post['p90_ms']:.1f}",
                ],
                [
                    "POST (same key again: replay)",
                    f"{replay['median_ms']:.1f}",
                    f"{replay['p90_ms']:.1f}",
                ],
                ["GET (job running)", f"{get['median_ms']:.1f}", f"{get['p90_ms']:.1f}"],
            ],
            width=70,
        ),
        "",
        f"Requests of one warm POST (new key); plus {post_ledger} to the ledger table",
        render(["route", "method", "count", "per POST", "note"], route_rows(post_requests)),
        "",
        f"Requests of one warm replayed POST; plus {replay_ledger} to the ledger table",
        render(["route", "method", "count", "per POST", "note"], route_rows(replay_requests)),
        "",
        f"Requests of one warm GET; plus {get_ledger} to the ledger table",
        render(["route", "method", "count", "per GET", "note"], route_rows(get_requests)),
        "",
        targets_text(targets),
    ]
    data = {
        "benchmark": "scoring_http",
        "machine": machine(),
        "first_request": {**first, "import": imports, "child_cpu": cpu,
                          "peak_rss_mib_median": round(statistics.median(rss), 1),
                          "peak_rss_mib_max": round(max(rss), 1), "azure_ai_ml_imported": ai_ml},
        "warm_post": post,
        "warm_post_replay": replay,
        "warm_get": get,
        "requests_per_post": {"simulator": len(post_requests), "ledger": post_ledger},
        "requests_per_replay": {"simulator": len(replay_requests), "ledger": replay_ledger},
        "requests_per_get": {"simulator": len(get_requests), "ledger": get_ledger},
        "targets": [t.as_json() for t in targets],
    }  # fmt: skip
    emit(args.json, "\n".join(lines), data)
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
