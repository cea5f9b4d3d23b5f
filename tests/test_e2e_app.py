"""The web app end to end: the real thing served by `superres app`, in headless Chromium driven by Playwright."""
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import chromium, free_port
from PIL import Image


def photo(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

@pytest.fixture
def app_url(tmp_path):
    port = free_port()
    log = open(tmp_path/'app.log', 'w')
    cmd = [sys.executable, '-m', 'superres', 'app', '--port', str(port), '--max-pixels', '50000',
           '--max-upload-mb', '1']
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(240):
            if proc.poll() is not None: pytest.fail(f'the app exited: {(tmp_path/"app.log").read_text()}')
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'the app did not start: {(tmp_path/"app.log").read_text()}')
        yield url, proc, tmp_path/'app.log'
    finally:
        proc.terminate()
        proc.wait(30)

@pytest.mark.slow
def test_app_in_a_real_browser(app_url, tmp_path):
    exe = chromium()
    url, proc, log = app_url
    from matplotlib import cbook
    from playwright.sync_api import expect, sync_playwright
    with Image.open(cbook.get_sample_data('grace_hopper.jpg')) as im:
        im.crop((150, 60, 350, 210)).save(tmp_path/'photo.jpg')
    photo(300, 200).save(tmp_path/'huge.png')
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (640, 640, 3), dtype=np.uint8)).save(tmp_path/'heavy.png')
    assert 2**20 < (tmp_path/'heavy.png').stat().st_size < 2 * 2**20
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        page.goto(url)
        page.locator('#upload input[type=file]').set_input_files(str(tmp_path/'photo.jpg'))
        page.locator('#run').click()
        expect(page.locator('#status textarea')).to_have_value(re.compile(r'200x150 -> 400x300'), timeout=120_000)
        with page.expect_download() as download:
            page.locator('#result a[download]').first.click()
        with Image.open(download.value.path()) as out: assert out.size == (400, 300)
        page.screenshot(path=str(tmp_path/'app.png'), full_page=True)
        assert (tmp_path/'app.png').stat().st_size > 10_000
        if os.environ.get('SUPERRES_SCREENSHOT'): shutil.copyfile(tmp_path/'app.png', os.environ['SUPERRES_SCREENSHOT'])
        page.reload()
        page.locator('#upload input[type=file]').set_input_files(str(tmp_path/'huge.png'))
        page.locator('#run').click()
        refusal = page.get_by_text(re.compile(r'300x200 \(0.1 MP\); this app takes up to 0.1 MP'))
        expect(refusal).to_be_visible(timeout=60_000)
        page.reload()
        # 1.2 MiB against a 1 MiB limit
        page.locator('#upload input[type=file]').set_input_files(str(tmp_path/'heavy.png'))
        expect(page.get_by_text(re.compile('exceed', re.I)).first).to_be_visible(timeout=60_000)
        browser.close()
    folder = Path(re.search(r'uploads and results stay in (\S+)', log.read_text()).group(1))
    if Path('/dev/shm').is_dir(): assert folder.parent == Path('/dev/shm')  # RAM, not disk
    kept = [f.name for f in folder.rglob('*') if f.is_file()]
    assert 'photo.jpg' in kept and 'photo_superres.png' in kept, kept  # the upload and the result, both in that folder
    proc.terminate(); proc.wait(30)
    assert not folder.exists()  # removed when the app stops
