"""Cold start: `import function_app` in fresh processes, next to eagerly importing the SDKs.

Each child process measures the import itself (time.perf_counter around it) and its own peak RSS
(getrusage), and prints them as JSON. Two warm-up runs per variant come first so the OS file cache
is warm; the variants are interleaved so drift on the machine affects them alike.

    python -m bench.cold_start [--json] [--check] [--runs N]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench._common import (
    REPO_ROOT,
    Target,
    arguments,
    emit,
    machine,
    render,
    summary_ms,
    targets_text,
)

RUNS = 15
WARM_UP_RUNS = 2
TARGET_IMPORT_SECONDS = 0.25
TARGET_PEAK_RSS_MIB = 50.0

# The SDKs the design card names. The app imports them where they are used, not at module load.
DESIGN_CARD_SDKS = (
    "azure.functions",
    "azure.identity",
    "azure.mgmt.machinelearningservices",
    "azure.mgmt.authorization",
    "azure.mgmt.resource.resources",
    "azure.data.tables",
    "azure.eventgrid",
    "azure.monitor.query",
    "azure.mgmt.network",
    "azure.ai.ml",
)
# What `import function_app` must not load: these cost cold start for every function.
MUST_STAY_UNLOADED = (
    "azure.ai.ml",
    "azure.mgmt.network",
    "azure.identity",
    "azure.mgmt.machinelearningservices",
)

_PRELUDE = "import json, resource, sys, time\n"
_RSS = "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
# VmHWM: the peak RSS of the process's current address space, as a cross-check of ru_maxrss.
_HWM = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"

CHILD_BARE = (
    _PRELUDE
    + "print(json.dumps({'seconds': 0.0, 'modules': len(sys.modules), "
    + f"'maxrss_kib': {_RSS}, 'hwm_kib': {_HWM}}}))\n"
)

CHILD_APP = (
    _PRELUDE
    + f"""
start = time.perf_counter()
import function_app
seconds = time.perf_counter() - start
rss, hwm = {_RSS}, {_HWM}
loaded = [name for name in {MUST_STAY_UNLOADED!r} if name in sys.modules]
packages = sorted({{
    ".".join(name.split(".")[:2]) for name in sys.modules
    if name.startswith("azure.") and not name.startswith("azure._")
}})
print(json.dumps({{
    "seconds": seconds, "maxrss_kib": rss, "hwm_kib": hwm, "loaded_eagerly": loaded,
    "azure_packages": packages, "modules": len(sys.modules),
}}))
assert not loaded, f"import function_app loaded {{loaded}}"
"""
)

# Telemetry on: what a fresh instance pays with APPLICATIONINSIGHTS_CONNECTION_STRING set, up to
# the first runtime build, which configures azure-monitor-opentelemetry (shared/telemetry.py).
# The ingestion endpoint is a closed local port: nothing leaves the machine.
TELEMETRY_ENV = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=https://127.0.0.1:9/"
    ),
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
}
CHILD_APP_TELEMETRY = (
    _PRELUDE
    + f"""
import os
os.environ.update({TELEMETRY_ENV!r})
start = time.perf_counter()
import function_app
imported = time.perf_counter()
from shared.telemetry import configure_telemetry
state = configure_telemetry().value
seconds = time.perf_counter() - start
print(json.dumps({{
    "seconds": seconds, "import_seconds": imported - start,
    "configure_seconds": seconds - (imported - start), "state": state,
    "maxrss_kib": {_RSS}, "hwm_kib": {_HWM}, "modules": len(sys.modules),
}}))
assert state == "configured", state
"""
)

CHILD_SDKS = (
    _PRELUDE
    + f"""
import importlib
each, missing = {{}}, {{}}
start = time.perf_counter()
for name in {DESIGN_CARD_SDKS!r}:
    began = time.perf_counter()
    try:
        importlib.import_module(name)
    except ImportError as error:
        missing[name] = str(error)
        continue
    each[name] = time.perf_counter() - began
seconds = time.perf_counter() - start
print(json.dumps({{
    "seconds": seconds, "maxrss_kib": {_RSS}, "hwm_kib": {_HWM}, "each": each, "missing": missing,
    "modules": len(sys.modules),
}}))
"""
)


@dataclass
class Variant:
    label: str
    code: str
    results: list[dict[str, Any]] = field(default_factory=list)
    process_seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self, *, record: bool) -> None:
        began = time.perf_counter()
        child = subprocess.run(
            # Through a shell that forks python rather than exec'ing it: on Linux a process
            # started straight from this one (vfork/exec) inherits this process's peak RSS in
            # ru_maxrss, which would then measure the benchmark, not the child.
            ["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, self.code],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - began
        lines = child.stdout.strip().splitlines()
        if not lines:
            raise RuntimeError(f"{self.label}: no output (exit {child.returncode}): {child.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        if child.returncode != 0:
            self.failures.append(child.stderr.strip().splitlines()[-1])
        if record:
            self.results.append(result)
            self.process_seconds.append(elapsed)

    def figures(self) -> dict[str, Any]:
        rss = [r["maxrss_kib"] / 1024 for r in self.results]
        hwm = [r["hwm_kib"] / 1024 for r in self.results]
        return {
            "import": summary_ms([r["seconds"] for r in self.results]),
            "peak_rss_mib": {
                "median": round(statistics.median(rss), 1),
                "max": round(max(rss), 1),
                "vmhwm_median": round(statistics.median(hwm), 1),
            },
            "process_wall": summary_ms(self.process_seconds),
            "modules": self.results[-1].get("modules"),
        }


@dataclass
class _ImportNode:
    depth: int
    name: str
    self_ms: float
    cumulative_ms: float
    children: list[_ImportNode] = field(default_factory=list)


def import_tree(min_ms: float = 4.0, max_depth: int = 4) -> list[tuple[int, str, float, float]]:
    """One `-X importtime` run of `import function_app`: (depth, module, self ms, cumulative ms)
    in tree order, for modules costing at least `min_ms` cumulatively."""
    child = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function_app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # Lines read "import time: <self us> | <cumulative us> | <2 spaces per level><module>",
    # children before their parent (post-order): rebuild the tree with a stack.
    pending: list[_ImportNode] = []
    for line in child.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        head, cumulative_us, module = line.split("|", 2)
        depth = (len(module) - len(module.lstrip()) - 1) // 2
        node = _ImportNode(
            depth,
            module.strip(),
            int(head.removeprefix("import time:")) / 1000,
            int(cumulative_us) / 1000,
        )
        while pending and pending[-1].depth > depth:
            node.children.insert(0, pending.pop())
        pending.append(node)
    rows: list[tuple[int, str, float, float]] = []

    def walk(node: _ImportNode, depth: int) -> None:
        if node.cumulative_ms < min_ms or depth > max_depth:
            return
        rows.append((depth, node.name, node.self_ms, node.cumulative_ms))
        for item in node.children:
            walk(item, depth + 1)

    for root in pending:
        if root.name == "function_app":
            walk(root, 0)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "cold start", argv)
    variants = [
        Variant("bare interpreter (reference)", CHILD_BARE),
        Variant("import function_app", CHILD_APP),
        Variant("eager design-card SDK imports", CHILD_SDKS),
        Variant("import + telemetry configured (first build)", CHILD_APP_TELEMETRY),
    ]
    for _ in range(WARM_UP_RUNS):
        for variant in variants:
            variant.run(record=False)
    for _ in range(RUNS):
        for variant in variants:
            variant.run(record=True)
    tree = import_tree()

    bare, app, sdks, telemetry = variants
    app_figures, sdk_figures, bare_figures = app.figures(), sdks.figures(), bare.figures()
    telemetry_figures = telemetry.figures()
    configure_ms = summary_ms([r["configure_seconds"] for r in telemetry.results])
    loaded = sorted({name for r in app.results for name in r["loaded_eagerly"]})
    missing: dict[str, str] = sdks.results[-1]["missing"]
    each = {
        name: round(statistics.median(r["each"][name] for r in sdks.results) * 1000, 1)
        for name in DESIGN_CARD_SDKS
        if name not in missing
    }
    targets = [
        Target(
            "import function_app: median import time",
            f"{app_figures['import']['median_ms'] / 1000:.3f} s",
            f"<= {TARGET_IMPORT_SECONDS} s",
            app_figures["import"]["median_ms"] / 1000 <= TARGET_IMPORT_SECONDS,
        ),
        Target(
            "import function_app: peak RSS (max over runs)",
            f"{app_figures['peak_rss_mib']['max']:.1f} MiB",
            f"<= {TARGET_PEAK_RSS_MIB:g} MiB",
            app_figures["peak_rss_mib"]["max"] <= TARGET_PEAK_RSS_MIB,
        ),
        Target(
            "import function_app leaves heavy SDKs unloaded",
            ", ".join(loaded) or "none loaded",
            "none of " + ", ".join(MUST_STAY_UNLOADED),
            not loaded and not app.failures,
        ),
    ]

    def row(variant: Variant, figures: dict[str, Any]) -> list[object]:
        timing = figures["import"]
        is_bare = variant is bare
        return [
            variant.label,
            "-" if is_bare else f"{timing['median_ms']:.1f}",
            "-" if is_bare else f"{timing['p90_ms']:.1f}",
            "-" if is_bare else f"{timing['min_ms']:.1f}-{timing['max_ms']:.1f}",
            f"{figures['peak_rss_mib']['median']:.1f}",
            f"{figures['peak_rss_mib']['max']:.1f}",
            f"{figures['peak_rss_mib']['vmhwm_median']:.1f}",
            f"{figures['process_wall']['median_ms']:.0f}",
            figures["modules"],
        ]

    lines = [
        f"== Cold start: fresh `python -c` processes, {RUNS} runs each after {WARM_UP_RUNS} "
        "warm-up runs ==",
        "",
        render(
            [
                "child",
                "import median ms",
                "p90 ms",
                "range ms",
                "peak RSS MiB",
                "max MiB",
                "VmHWM MiB",
                "process wall ms",
                "modules",
            ],
            [
                row(bare, bare_figures),
                row(app, app_figures),
                row(sdks, sdk_figures),
                row(telemetry, telemetry_figures),
            ],
            width=40,
        ),
        "",
        "Inside the `import function_app` child, after the import:",
        *[
            f"  {name:<36} {'LOADED (should not be)' if name in loaded else 'not in sys.modules'}"
            for name in MUST_STAY_UNLOADED
        ],
        "  azure packages loaded: " + ", ".join(app.results[-1]["azure_packages"]),
        "",
        "With APPLICATIONINSIGHTS_CONNECTION_STRING set, configuring azure-monitor-opentelemetry "
        f"on the first runtime build adds {configure_ms['median_ms']:.0f} ms median "
        f"(p90 {configure_ms['p90_ms']:.0f} ms) to the first invocation; the import itself is "
        "unchanged.",
        "",
        "Eager design-card SDK imports, median ms each (in this order; later ones reuse what "
        "earlier ones loaded):",
        *[f"  {name:<36} {ms:7.1f}" for name, ms in each.items()],
        *[f"  {name:<36} not installed ({reason})" for name, reason in missing.items()],
        "",
        "Where `import function_app` spends its time (one -X importtime run, >= 4 ms cumulative):",
        render(
            ["module", "self ms", "cumulative ms"],
            [
                [". " * depth + name, f"{own:.1f}", f"{total:.1f}"]
                for depth, name, own, total in tree
            ],
            width=60,
        ),
        "",
        targets_text(targets),
    ]
    data = {
        "benchmark": "cold_start",
        "machine": machine(),
        "runs": RUNS,
        "warm_up_runs": WARM_UP_RUNS,
        "bare_interpreter": bare_figures,
        "import_function_app": {
            **app_figures,
            "loaded_eagerly": loaded,
            "checked_unloaded": list(MUST_STAY_UNLOADED),
            "azure_packages": app.results[-1]["azure_packages"],
            "child_failures": app.failures,
        },
        "eager_sdk_imports": {
            **sdk_figures,
            "each_median_ms": each,
            "not_installed": sorted(missing),
        },
        "telemetry_on": {
            **telemetry_figures,
            "configure_ms": configure_ms,
            "child_failures": telemetry.failures,
        },
        "import_tree": [
            {"depth": depth, "module": name, "self_ms": own, "cumulative_ms": total}
            for depth, name, own, total in tree
        ],
        "targets": [t.as_json() for t in targets],
    }
    emit(args.json, "\n".join(lines), data)
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
