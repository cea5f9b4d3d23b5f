"""Random bad inputs (hypothesis, a fixed set of cases): generated and mutated image files through the CLI,
`upscale_image` and the app's endpoint give a correct output or one clear line, never a traceback, a hang or a partial
output. The generator and the checks live in `bench/fuzz.py`, whose longer runs are in BENCHMARKS.md."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]/'bench'))
from fuzz import run  # noqa: E402

EXAMPLES = 300

@pytest.mark.slow
def test_random_bad_image_files_never_crash():
    counts = run(EXAMPLES)
    assert counts['cases'] == EXAMPLES
    # both sides of the promise were exercised: outputs written, and clear refusals of broken files and bombs
    assert counts['written'] >= EXAMPLES // 4 and counts['refused'] >= EXAMPLES // 10, counts
    assert counts['mutation: bomb'] and counts['library: refused'] + counts['library: upscaled'] >= counts['written']

APP_EXAMPLES = 100

@pytest.mark.slow
def test_random_bad_image_files_through_the_app():
    pytest.importorskip('gradio_client')
    counts = run(APP_EXAMPLES, app=True)
    assert counts['cases'] == APP_EXAMPLES and counts['app: upscaled'] + counts['app: refused'] == APP_EXAMPLES
    assert counts['app: upscaled'] >= counts['written'] and counts['app: refused'] >= APP_EXAMPLES // 10, counts
