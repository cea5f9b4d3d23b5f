"""The web app under load, the table of BENCHMARKS.md: `tests/app_driving.py`'s drive (what `tests/test_app_load.py`
runs, shorter) for several numbers of concurrent clients, one JSON line each.

    python bench/app_load.py --clients 1 4 16 --rounds 3
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]/'tests'))
from app_driving import run_load  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--clients', type=int, nargs='+', default=[1, 4, 16])
    p.add_argument('--rounds', type=int, default=3, help='times each client sends the whole workload')
    p.add_argument('--concurrency', type=int, help="the app's --concurrency (default: its own)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for n in a.clients: print(json.dumps(run_load(n, a.rounds, d, a.concurrency)), flush=True)

if __name__ == '__main__': main()
