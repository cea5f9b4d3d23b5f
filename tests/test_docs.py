"""The documentation site, built as the README says (`python docs/build.py`): the notebooks executed by the build,
API pages from the docstrings, the CLI reference from the parser; then opened in headless Chromium by Playwright."""
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import chromium, free_port, real_data

ROOT = Path(__file__).parents[1]
NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
pytestmark = [pytest.mark.real_data, pytest.mark.slow]

@pytest.fixture(scope='module')
def docs(tmp_path_factory):
    out = tmp_path_factory.mktemp('docs')
    env = dict(os.environ, SUPERRES_DATA=str(real_data().resolve()))
    cmd = [sys.executable, str(ROOT/'docs'/'build.py'), '--src', str(out/'src'), '--site', str(out/'site')]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    return out

@pytest.fixture(scope='module')
def site_url(docs):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(docs/'site'))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}/'
    server.shutdown()

@pytest.mark.parametrize('path', NBS, ids=lambda p: p.stem)
def test_every_notebook_ran_and_shows_pictures(docs, path):
    nb = nbformat.read(docs/'src'/'nbs'/path.name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == 'code']
    assert all(c.execution_count for c in code), 'every cell executed'
    pictures = [o for c in code for o in c.outputs if 'image/png' in o.get('data', {})]
    assert pictures, f'{path.name} shows no picture'
    assert len(list((docs/'site'/'nbs').glob(f'{path.stem}_files/*.png'))) == len(pictures), 'pictures are files'

def page_text(path):
    return html.unescape(re.sub(r'<[^>]+>', '', path.read_text()))

def test_cli_reference_is_the_parsers_help(docs):
    text = page_text(docs/'site'/'cli'/'index.html')
    for command in (['upscale'], ['classify', 'train'], ['train']):
        out = subprocess.run([sys.executable, '-m', 'superres', *command, '--help'], capture_output=True, text=True,
                             env=dict(os.environ, COLUMNS='110'), check=True).stdout
        assert all(line.strip() in text for line in out.splitlines()), command

def test_api_pages_document_every_public_name(docs):
    import superres.inference
    text = page_text(docs/'site'/'api'/'superres.inference'/'index.html')
    for name in superres.inference.__all__: assert name in text
    assert superres.inference.upscale_image.__doc__ in text

SEARCH = 'perceptual'

def test_site_in_a_real_browser(site_url, tmp_path):
    exe = chromium()
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        visited = []
        def visit(path):
            response = page.goto(site_url + path)
            assert response.status == 200, path
            visited.append(page.evaluate('''() => [...document.querySelectorAll('a[href], img[src], link[href]')]
                .map(e => e.href || e.src).filter(u => u.startsWith(location.origin)).map(u => u.split('#')[0])'''))
        visit('')
        expect(page.locator('article h1').first).to_have_text(re.compile('superres'))
        page.locator('input.md-search__input').click()
        page.locator('input.md-search__input').fill(SEARCH)
        expect(page.locator('.md-search-result__item').first).to_be_visible(timeout=20_000)
        assert page.locator('.md-search-result__item').count() > 0
        page.keyboard.press('Escape')
        visit('nbs/03_superres/')
        images = page.locator('article img')
        assert images.count() >= 3
        widths = page.evaluate('''() => Promise.all([...document.querySelectorAll('article img')].map(
            i => i.decode().then(() => i.naturalWidth, () => 0)))''')
        assert all(w > 0 for w in widths), widths
        visit('api/superres.inference/')
        expect(page.locator('h2#upscale_image')).to_be_visible()
        page.screenshot(path=str(tmp_path/'docs.png'))
        if 'SUPERRES_SCREENSHOT' in os.environ: shutil.copyfile(tmp_path/'docs.png', os.environ['SUPERRES_SCREENSHOT'])
        links = sorted({u for urls in visited for u in urls})
        assert len(links) > 50
        broken = [u for u in links if page.request.get(u).status != 200]
        assert not broken, broken
        browser.close()
