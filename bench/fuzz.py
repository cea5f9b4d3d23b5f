"""Random bad inputs through every command that reads images or model files, for longer than the tests: the cases and
the promise checked on each live in `tests/fuzzing.py` (what `tests/test_fuzz.py` runs); this keeps going past a
broken promise and prints the counts per command (written / refused in one line / crashes / hangs):

    python bench/fuzz.py --examples 10000 [--commands upscale fid ...] [--app]
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]/'tests'))
from fuzzing import COMMANDS, per_command, run  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--examples', type=int, default=10_000)
    p.add_argument('--commands', nargs='+', choices=COMMANDS, default=list(COMMANDS))
    p.add_argument('--seed', type=int, default=0, help='0: the same cases every run; else random ones')
    p.add_argument('--app', action='store_true', help="also upscale through a served app's endpoint")
    a = p.parse_args()
    os.environ.setdefault('SUPERRES_CACHE', tempfile.mkdtemp())
    counts = run(a.examples, a.seed, app=a.app, commands=a.commands, keep_going=True)
    print(json.dumps(dict(per_command=per_command(counts), totals={k: counts[k] for k in (
        'cases', 'written', 'refused', 'crashes', 'hangs')}, details=dict(sorted(counts.items()))), indent=1))
    return 1 if counts['crashes'] or counts['hangs'] else 0

if __name__ == '__main__': raise SystemExit(main())
