"""Random bad inputs (hypothesis, a fixed set of cases): generated and mutated image files through the CLI,
`upscale_image` and the app's endpoint, then through every other command that reads images (restore, degrade,
evaluate, fid, classify predict), and generated and mutated model files (.pth and ONNX) through upscale and export,
give a correct output or one clear line, never a traceback, a hang or a partial output. The generator and the checks
live in `tests/fuzzing.py`; `bench/fuzz.py` runs them longer (BENCHMARKS.md)."""

import pytest
from fuzzing import COMMANDS, run

EXAMPLES = 120  # derandomized: the same cases every run; bench/fuzz.py runs thousands

@pytest.mark.slow
def test_random_bad_image_files_never_crash():
    counts = run(EXAMPLES)
    assert counts['cases'] == EXAMPLES
    # both sides of the promise were exercised: outputs written, and clear refusals of broken files and bombs
    assert counts['written'] >= EXAMPLES // 4 and counts['refused'] >= EXAMPLES // 10, counts
    assert counts['mutation: bomb'] and counts['library: refused'] + counts['library: upscaled'] >= counts['written']

APP_EXAMPLES = 50

@pytest.mark.slow
def test_random_bad_image_files_through_the_app():
    pytest.importorskip('gradio_client')
    counts = run(APP_EXAMPLES, app=True)
    assert counts['cases'] == APP_EXAMPLES and counts['app: upscaled'] + counts['app: refused'] == APP_EXAMPLES
    assert counts['app: upscaled'] >= counts['written'] and counts['app: refused'] >= APP_EXAMPLES // 10, counts

OTHER_EXAMPLES = 80  # about a dozen cases each; the export of a valid model costs 5 s

@pytest.mark.slow
def test_random_bad_files_through_every_other_command():
    others = [c for c in COMMANDS if c != 'upscale']
    counts = run(OTHER_EXAMPLES, commands=others)  # a broken promise raises, shrunk
    assert counts['cases'] == OTHER_EXAMPLES and counts['written'] + counts['refused'] == OTHER_EXAMPLES
    assert all(counts[f'{c}: written'] + counts[f'{c}: refused'] for c in others), counts  # every command ran
    assert counts['written'] >= OTHER_EXAMPLES // 10 and counts['refused'] >= OTHER_EXAMPLES // 10, counts
    assert counts['mutation: pth config'] and counts['mutation: pth weights'], counts
