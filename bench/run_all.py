"""Run every bench/bench_*.py in turn with the project's virtualenv python; the environment is passed through."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BASE = BENCH.parent


def main() -> int:
    venv = BASE / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    scripts = sorted(BENCH.glob("bench_*.py"))
    if not scripts:
        print("run_all: no bench/bench_*.py found")
        return 0
    failed = []
    for script in scripts:
        print(f"== {script.relative_to(BASE)}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([python, str(script)], cwd=BASE, env=os.environ.copy())
        print(f"== {script.name}: exit {result.returncode} after {time.perf_counter() - start:.1f} s", flush=True)
        if result.returncode:
            failed.append(script.name)
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
