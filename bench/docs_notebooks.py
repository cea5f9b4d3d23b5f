"""The docs build's notebooks executed one at a time (a kernel using every core) and then `--jobs` at a time (each
kernel its share of the cores), back to back in this process: wall clock of each way and the ratio.

    SUPERRES_DATA=../shared/data/tiny-imagenet-200.zip python bench/docs_notebooks.py --jobs 2 04_evaluation 07_panorama
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'docs'))
from build import NOTEBOOKS, executed_notebooks  # noqa: E402

from superres.cli.options import positive  # noqa: E402


def timed(paths, jobs):
    "Seconds to execute `paths` with `jobs` kernels at a time, and each notebook's finishing time."
    start = time.perf_counter()
    done = {path.stem: round(seconds) for path, _, seconds in executed_notebooks(paths, jobs=jobs)}
    return time.perf_counter() - start, done

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*', help='notebook stems (default: all of nbs/)')
    p.add_argument('--jobs', type=positive(int), default=2, help='kernels at a time in the parallel run')
    args = p.parse_args()
    paths = [n for n in NOTEBOOKS if not args.names or n.stem in args.names]
    one, one_each = timed(paths, 1)
    print(f'one at a time: {one:.0f} s {one_each}', flush=True)
    many, many_each = timed(paths, args.jobs)
    print(f'{args.jobs} at a time: {many:.0f} s {many_each}')
    print(f'ratio: {one / many:.2f}x')

if __name__ == '__main__': main()
