"""Build the documentation site: the notebooks executed and rendered, API pages by nbdev's `show_doc`, the CLI
reference from the argparse parser, README, the guide pages in docs/ and BENCHMARKS; MkDocs (material theme) writes
the HTML.

    python docs/build.py                  # -> site/index.html (sources in build/docs); needs Tiny ImageNet
"""
import argparse
import importlib
import inspect
import json
import multiprocessing
import os
import pkgutil
import posixpath
import re
import reprlib
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import MarkdownExporter
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.processors import clean_magics, dict2nb, filter_stream_, hide_, nb2dict, rm_header_dash, strip_ansi
from nbdev.showdoc import MarkdownRenderer, show_doc

from superres.cli import parser
from superres.cli.options import positive

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))
# docs/ pages: the manual the README points at, by their titles in the navigation
GUIDE = {'upscaling.md': 'Upscaling photos', 'training.md': 'Training with fastai',
         'tasks.md': 'Other restoration tasks', 'app.md': 'The web app', 'development.md': 'Development'}
PAGES = {'README.md': 'index.md', **{f'docs/{p}': p for p in GUIDE}, 'BENCHMARKS.md': 'benchmarks.md',
         'superres/weights/README.md': 'weights.md'}
LINK = re.compile(r'(\]\()([^)\s]+)(\))')

def public_modules(package='superres'):
    "Every module of `package` that declares a public API (`__all__`), by name."
    pkg = importlib.import_module(package)
    found = [m.name for m in pkgutil.walk_packages(pkg.__path__, f'{package}.')]
    names = [package] + [n for n in found if not n.endswith(('__main__', '.all'))]  # `all` re-exports the others
    mods = [importlib.import_module(n) for n in sorted(names)]
    return [m for m in mods if hasattr(m, '__all__')]

def source_page(module):
    "The site path of `module`'s source listing."
    return f"source/{module.__name__.replace('.', '/')}.md"

class SiteRenderer(MarkdownRenderer):
    "nbdev's markdown for an API entry, linked to its line on the site's source page (nbdev's own link needs a modidx)."
    def __init__(self, sym, page, **kwargs):
        super().__init__(sym, **kwargs)
        target = inspect.unwrap(self.sym)
        self.page, self.module, self.line = page, sys.modules[target.__module__], inspect.getsourcelines(target)[1]

    def _repr_markdown_(self):
        target, line = inspect.unwrap(self.sym), self.line
        href = posixpath.relpath(source_page(self.module), posixpath.dirname(self.page))
        kind = 'class' if inspect.isclass(target) else 'def'
        body = super()._repr_markdown_().replace(f'```python\ndef {self.nm}', f'```python\n{kind} {self.nm}', 1)
        return (f"{'#' * self.title_level} {self.nm}\n\n[source]({href}#L{line}){{.source-link}}\n\n"
                f'{body}\n')

def _documented(obj):
    "Whether nbdev's `show_doc` can render `obj` (functions and classes; constants get their value instead)."
    return inspect.isfunction(inspect.unwrap(obj)) or inspect.isclass(obj)

def api_page(module):
    "A module's reference page (docstring, every name in `__all__` by `show_doc`, methods) and the lines it links to."
    page, entries = f'api/{module.__name__}.md', []
    parts = [f'# {module.__name__}\n', f'{inspect.getdoc(module) or ""}\n',
             f'[source]({posixpath.relpath(source_page(module), "api")})\n']
    for name in module.__all__:
        obj = getattr(module, name)
        if not _documented(obj):
            parts.append(f'## {name}\n\n```python\n{name} = {reprlib.repr(obj)}\n```\n')
            continue
        own = [show_doc(obj, name=name, title_level=2, renderer=lambda s, **kw: SiteRenderer(s, page, **kw))]
        if inspect.isclass(obj):
            own += [SiteRenderer(m, page, name=f'{name}.{n}', title_level=3) for n, m in vars(obj).items()
                    if not n.startswith('_') and inspect.isfunction(m) and m.__doc__]
        entries += own
        parts += [e._repr_markdown_() for e in own]
    return page, '\n'.join(parts), [(e.module, e.line) for e in entries]

def source_markdown(module, anchors):
    "A module's source as numbered listings split at the `anchors` (1-based line numbers), each anchored `L<line>`."
    lines = Path(module.__file__).read_text().splitlines()
    starts = sorted({line - 1 for line in anchors} - {0})
    blocks = [f'# {Path(module.__file__).relative_to(ROOT).as_posix()}\n']
    for a, b in zip([0] + starts, starts + [len(lines)]):
        code = '\n'.join(lines[a:b]).rstrip()
        blocks.append(f'<a id="L{a + 1}"></a>\n\n```python linenums="{a + 1}"\n{code}\n```\n')
    return '\n'.join(blocks)

def cli_markdown():
    "The CLI reference: every command's `--help`, from the parser itself so it cannot drift."
    os.environ['COLUMNS'] = '110'  # argparse wraps to the terminal; a fixed width keeps the page stable
    blocks = ['# Command line\n', "Every `superres` command's `--help`, generated from the argument parser.\n"]
    def walk(p, words):
        blocks.append(f"## {' '.join(words)}\n\n```text\n{p.format_help().rstrip()}\n```\n")
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items(): walk(sub, words + [name])
    walk(parser(), ['superres'])
    return '\n'.join(blocks)

def clean_notebook(path):
    "A notebook as committed: without outputs (the build executes it), else the build stops with one line."
    nb = nbformat.read(path, as_version=4)
    if any(c.get('outputs') for c in nb.cells if c.cell_type == 'code'):
        raise SystemExit(f'{path.name} has outputs: commit notebooks clean (the build executes them)')
    return nb

def execute_notebook(path, timeout=900):
    "Run a notebook top to bottom in a fresh kernel, as a user would; its outputs come back as the notebook's JSON."
    nb, where = clean_notebook(path), {'metadata': {'path': str(path.parent)}}
    try: NotebookClient(nb, timeout=timeout, kernel_name='python3', resources=where).execute()
    except CellExecutionError as e: raise RuntimeError(f'{path.name} failed:\n{e}') from None  # pickles across
    return nbformat.writes(nb)

def _kernel_threads(threads):
    "A pool worker's start: the kernels it launches inherit a torch thread count that shares the cores."
    os.environ['OMP_NUM_THREADS'] = str(threads)

def executed_notebooks(paths, timeout=900,
                       jobs=None):  # notebooks executed at once (None: one per core, at most 4, as each holds its data)
    """Yield each of `paths` executed, with its seconds, as it finishes: `jobs` kernels at a time sharing the cores
    (on 2 cores, two one-thread kernels ran the nine notebooks 1.35x as fast as one two-thread kernel: BENCHMARKS)."""
    for path in paths: clean_notebook(path)  # refused before anything runs
    cores = os.cpu_count() or 1
    jobs = jobs or max(1, min(4, cores, len(paths)))
    spawn = multiprocessing.get_context('spawn')  # this process has torch's threads; a fork would copy them
    with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_kernel_threads,
                             initargs=(max(1, cores // jobs),)) as pool:
        start = time.perf_counter()
        running = {pool.submit(execute_notebook, path, timeout): path for path in paths}
        for done in as_completed(running):
            yield running[done], nbformat.reads(done.result(), as_version=4), time.perf_counter() - start

def notebook_markdown(nb, stem):
    "nbdev's processors (hidden cells, magics, ANSI colours), then nbconvert's markdown; pictures come out as files."
    proc = NBProcessor(nb=dict2nb(nb), procs=[hide_, filter_stream_, strip_ansi, clean_magics, rm_header_dash])
    proc.process()
    md, res = MarkdownExporter().from_notebook_node(nbformat.reads(json.dumps(nb2dict(proc.nb)), 4),
                                                    resources={'unique_key': stem, 'output_files_dir': f'{stem}_files'})
    return md, res['outputs']

def link_map(modules):
    "Repository path -> site path, for every file the site carries."
    pages = dict(PAGES) | {f'nbs/{p.name}': f'nbs/{p.stem}.md' for p in NOTEBOOKS}
    pages |= {f'docs/images/{p.name}': f'images/{p.name}' for p in (ROOT/'docs'/'images').iterdir()}
    return pages | {Path(m.__file__).relative_to(ROOT).as_posix(): source_page(m) for m in modules}

def rewrite_links(text, repo_path, site_path, pages, git_url):
    "Point a page's relative links at the site's copies, or at the repository for files the site does not carry."
    def fix(m):
        target, _, anchor = m[2].partition('#')
        if not target or re.match(r'[a-z]+:', target): return m[0]
        path = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), target))
        if path in pages: new = posixpath.relpath(pages[path], posixpath.dirname(site_path))
        elif (ROOT/path).exists(): new = f'{git_url}/blob/main/{path}'
        else: raise SystemExit(f'{repo_path}: the link {m[2]} points at nothing')
        return f"{m[1]}{new}{'#' + anchor if anchor else ''}{m[3]}"
    return LINK.sub(fix, text)

def mkdocs_config(src, site, notebooks, modules):
    "MkDocs settings: material, offline fonts, strict link checks, the navigation in reading order."
    cfg = get_config()
    return {
        'site_name': cfg.title, 'site_description': cfg.description,
        'repo_url': cfg.git_url, 'docs_dir': str(src), 'site_dir': str(site), 'strict': True,
        'theme': {'name': 'material', 'font': False, 'features': ['navigation.sections', 'content.code.copy']},
        'plugins': ['search'], 'extra_css': ['superres.css'],
        'markdown_extensions': ['tables', 'attr_list', 'md_in_html', 'admonition', {'toc': {'permalink': True}},
                                {'pymdownx.highlight': {'anchor_linenums': True}}, 'pymdownx.superfences'],
        'validation': {'links': {'not_found': 'warn', 'unrecognized_links': 'warn', 'anchors': 'warn'}},
        'nav': [{'Home': 'index.md'}, {'Guide': [{title: page} for page, title in GUIDE.items()]},
                {'Notebooks': [f'nbs/{p.stem}.md' for p in notebooks]},
                {'Command line': 'cli.md'}, {'API': [{m.__name__: f'api/{m.__name__}.md'} for m in modules]},
                {'Benchmarks': 'benchmarks.md'}, {'Shipped models': 'weights.md'}],
    }

def write_sources(src, notebooks, modules, timeout, jobs=None):
    "Everything MkDocs renders, written into `src`; the executed notebooks are kept beside their pages."
    if src.exists(): shutil.rmtree(src)
    (src/'nbs').mkdir(parents=True)
    git_url, pages = get_config().git_url, link_map(modules)
    def write(rel, data):
        (src/rel).parent.mkdir(parents=True, exist_ok=True)
        (src/rel).write_bytes(data) if isinstance(data, bytes) else (src/rel).write_text(data)
    for repo_path, site_path in PAGES.items():
        write(site_path, rewrite_links((ROOT/repo_path).read_text(), repo_path, site_path, pages, git_url))
    shutil.copytree(ROOT/'docs'/'images', src/'images')
    write('superres.css', '.source-link { float: right; font-size: smaller; }\n')
    write('cli.md', cli_markdown())
    anchors = defaultdict(list)
    for m in modules:
        page, text, lines = api_page(m)
        write(page, text)
        for module, line in lines: anchors[module].append(line)
    for m in modules: write(source_page(m), source_markdown(m, anchors[m]))
    for path, nb, seconds in executed_notebooks(notebooks, timeout, jobs):
        nbformat.write(nb, src/'nbs'/path.name)
        md, pictures = notebook_markdown(nb, path.stem)
        carried = pages | {f'nbs/{name}': f'nbs/{name}' for name in pictures}
        write(f'nbs/{path.stem}.md', rewrite_links(md, f'nbs/{path.name}', f'nbs/{path.stem}.md', carried, git_url))
        for name, data in pictures.items(): write(f'nbs/{name}', data)
        print(f'{path.name}: executed and rendered {seconds:.0f} s into the build', flush=True)

def build(src=ROOT/'build'/'docs', site=ROOT/'site', notebooks=NOTEBOOKS, timeout=900, jobs=None):
    "Write the sources, then let MkDocs render them strictly (a broken internal link fails the build)."
    os.environ.pop('MPLBACKEND', None)  # the notebooks' kernels show their plots inline
    modules = public_modules()
    write_sources(src, notebooks, modules, timeout, jobs)
    config = src.parent/'mkdocs.yml'
    config.write_text(yaml.safe_dump(mkdocs_config(src, site, notebooks, modules), sort_keys=False))
    subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--clean', '-f', str(config)], check=True)
    return site

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--src', type=Path, default=ROOT/'build'/'docs', help='where the generated sources go')
    p.add_argument('--site', type=Path, default=ROOT/'site', help='where the HTML site goes')
    p.add_argument('--data', help='Tiny ImageNet for the notebooks (default: $SUPERRES_DATA)')
    p.add_argument('--jobs', type=positive(int), help='notebooks executed at once (default: one per core, at most 4)')
    args = p.parse_args()
    if args.data: os.environ['SUPERRES_DATA'] = args.data
    start = time.perf_counter()
    site = build(args.src.resolve(), args.site.resolve(), jobs=args.jobs)
    print(f'site: {site/"index.html"} ({time.perf_counter() - start:.0f} s)')

if __name__ == '__main__': main()
