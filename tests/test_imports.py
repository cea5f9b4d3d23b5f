"""One import direction: running a model (inference, the app) never loads the training side; every module says what
it exports."""
import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import superres

TRAINING_SIDE = ['superres.learner', 'superres.recipes', 'superres.callbacks', 'superres.data', 'fastai.learner']

@pytest.mark.parametrize('module', ['superres.inference', 'superres.api', 'superres.app'])
def test_running_a_model_loads_no_training_side(module):
    code = (f'import json, sys, {module}\n'
            f'print(json.dumps([{module!r} in sys.modules, sorted(m for m in {TRAINING_SIDE!r} if m in sys.modules)]))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)  # a fresh interpreter
    assert r.returncode == 0, r.stderr
    loaded, training = json.loads(r.stdout.strip().splitlines()[-1])
    assert loaded and training == [], f'import {module} loads {training}'

def test_the_check_sees_the_training_side_when_it_is_loaded():
    "The same check on a module that does import the training side, so an empty list above means something."
    code = ('import json, sys, superres.recipes\n'
            f'print(json.dumps(sorted(m for m in {TRAINING_SIDE!r} if m in sys.modules)))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == sorted(TRAINING_SIDE)

# every module of the package (its __init__ holds only __version__ and the lazy `upscale`; __main__ runs the CLI)
MODULES = sorted(m.name.removeprefix('superres.') for m in pkgutil.walk_packages(superres.__path__, 'superres.')
                 if m.name != 'superres.__main__')

def test_modules_are_all_found():
    "The walk finds every module the README's Layout lists, and no other: the __all__ checks below cover them all."
    assert {m.split('.')[0] for m in MODULES} == set(readme_layers())
    assert {'cli.options', 'cli.training', 'cli.restoring', 'cli.scoring'} <= set(MODULES)

@pytest.mark.parametrize('name', MODULES)
def test_every_module_declares_its_public_names(name):
    module = importlib.import_module(f'superres.{name}')
    names = getattr(module, '__all__', None)
    assert isinstance(names, list) and names, f'superres.{name} has no __all__'
    assert len(set(names)) == len(names), f'superres.{name}.__all__ lists a name twice'
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f'superres.{name}.__all__ names what it does not define: {missing}'

PACKAGE = Path(superres.__file__).parent

def readme_layers():
    "The module order of the README's Layout block, top first (its dashed line only marks the training side)."
    block = (PACKAGE.parent/'README.md').read_text().split('## Layout', 1)[1].split('```')[1]
    names = [line.split('  ')[0] for line in block.strip().splitlines() if not line.lstrip().startswith('--')]
    return [n.strip() for row in names for n in row.split(',')]

def imported(path):
    "The superres modules a file imports, at module level or inside functions."
    level = 2 if path.parent.name == 'cli' else 1  # the cli package's own modules import the library from `..`
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == level and node.module:
            yield node.module.split('.')[0]

def test_modules_import_only_those_above_them_in_the_readme_layout():
    order = readme_layers()
    files = {p.stem: p for p in PACKAGE.glob('*.py') if p.stem not in ('__init__', '__main__')}
    assert sorted(order) == sorted([*files, 'cli']), 'the README Layout lists exactly the modules'
    files['cli'] = PACKAGE/'cli'
    for name in order:
        paths = sorted(files[name].glob('*.py')) if files[name].is_dir() else [files[name]]
        below = {m for p in paths for m in imported(p)} - set(order[:order.index(name)])
        assert not below, f'superres.{name} imports {sorted(below)}, listed below it in the README Layout'
