"""The notebooks in nbs/ are documentation that runs: the docs build (tests/test_docs.py) executes each top to bottom
on the real data, and their asserts fail it when a notebook computes nonsense. Here: they are all there, committed
clean, each with its FULL switch and asserts."""
import ast
from pathlib import Path

import nbformat
import pytest

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))

def test_the_documented_notebooks_are_all_there():
    assert [p.stem for p in NBS] == ['00_index', '01_data', '02_classifier', '03_superres', '04_evaluation', '05_tasks',
                                     '06_segmentation', '07_panorama', '08_style']

def _python(source):
    "A cell's source without IPython's magics and shell lines, which are not Python."
    return '\n'.join('' if line.lstrip().startswith(('%', '!')) else line for line in source.splitlines())

@pytest.mark.parametrize('path', NBS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_checks_itself(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == 'code']
    assert not any(c.get('outputs') or c.get('execution_count') for c in code), 'commit notebooks clean (no outputs)'
    checks = [n for c in code[1:] for n in ast.walk(ast.parse(_python(c.source))) if isinstance(n, ast.Assert)]
    assert any(not isinstance(n.test, ast.Constant) for n in checks), f'{path.name} asserts nothing it shows'
    assert path.stem == '00_index' or 'FULL = False' in code[0].source, 'the first cell holds the FULL switch'
