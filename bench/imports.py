"""`python -m bench imports [name ...]`: each function's init phase alone, in CPU time.

A fresh interpreter imports one function's ``app`` module with the variables the template
gives it (references replaced by placeholders, tracing off as the local stack runs it)
and exits; nothing is called, so no local stack is needed. Its CPU time (user + sys of
the child, from ``os.wait4``) is compared with the floor's: a fresh interpreter importing
boto3 and creating one DynamoDB client. Runs are interleaved (floor, each function, floor
...) and the median of ``BENCH_IMPORT_REPEAT`` (default 5) is printed as a ratio: CPU
time moves far less than wall time when other work shares the machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from govbus_dev.local.template import function_environments as template_environments

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_IMPORT_REPEAT", 5))
FLOOR = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"


def function_environments() -> dict[str, dict[str, str]]:
    """Each function folder's name -> the environment the template gives it."""
    return template_environments(ROOT / "template.yaml")


def _base_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing may be called at init
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def cpu_seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """User + sys CPU of one child process, run to its end."""
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{argv} in {cwd} exited {child.returncode}")
    return usage.ru_utime + usage.ru_stime


def main(names: list[str]) -> int:
    environments = function_environments()
    chosen = names or sorted(environments)
    floor, ours = [], {name: [] for name in chosen}
    for _ in range(REPEAT):
        floor.append(cpu_seconds([sys.executable, "-c", FLOOR], _base_env(), ROOT))
        for name in chosen:
            env = {**_base_env(), **environments[name]}
            cwd = ROOT / "functions" / name
            ours[name].append(cpu_seconds([sys.executable, "-c", "import app"], env, cwd))
    base = statistics.median(floor)
    print(f"import.floor cpu={base * 1000:.0f} ms (median of {REPEAT})", flush=True)
    for name in chosen:
        mine = statistics.median(ours[name])
        print(
            f"import.{name} ratio={mine / base:.2f} (ours {mine * 1000:.0f} ms CPU / "
            f"floor {base * 1000:.0f} ms CPU)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
