"""The notebooks in nbs/ are documentation that runs: the docs build (tests/test_docs.py) executes each top to bottom
on the real data, and their asserts fail it when a notebook computes nonsense. Here: they are all there, committed
clean, each with its FULL switch and asserts."""
from pathlib import Path

import nbformat
import pytest

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))

def test_the_documented_notebooks_are_all_there():
    assert [p.stem for p in NBS] == ['00_index', '01_data', '02_classifier', '03_superres', '04_evaluation', '05_tasks',
                                      '06_segmentation']

@pytest.mark.parametrize('path', NBS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_checks_itself(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == 'code']
    assert not any(c.get('outputs') or c.get('execution_count') for c in code), 'commit notebooks clean (no outputs)'
    assert any('assert ' in c.source for c in code), f'{path.name} asserts nothing it shows'
    assert path.stem == '00_index' or 'FULL = False' in code[0].source, 'the first cell holds the FULL switch'
