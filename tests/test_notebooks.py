"""The notebooks in nbs/ are documentation that runs: each executes top to bottom on the real data, on a small
subset."""
from pathlib import Path

import pytest
from conftest import real_data

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))

def test_the_documented_notebooks_are_all_there():
    assert [p.stem for p in NBS] == ['00_index', '01_data', '02_classifier', '03_superres', '04_evaluation', '05_tasks']

@pytest.mark.real_data
@pytest.mark.parametrize('path', [pytest.param(p, marks=[pytest.mark.slow] if p.stem != '00_index' else [])
                                  for p in NBS], ids=lambda p: p.stem)  # 00_index: 7 s, the others 16-34 s
def test_notebook_runs_and_shows_pictures(path, monkeypatch):
    nbformat = pytest.importorskip('nbformat')
    from nbclient import NotebookClient
    monkeypatch.setenv('SUPERRES_DATA', str(real_data().resolve()))
    monkeypatch.delenv('MPLBACKEND', raising=False)  # the tests' Agg would hide the notebooks' inline plots
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get('outputs') for c in nb.cells if c.cell_type == 'code'), 'commit notebooks clean (no outputs)'
    NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    images = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs if 'image/png' in o.get('data', {})]
    assert images, f'{path.name} shows no picture'
