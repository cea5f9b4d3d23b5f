"""The web app: its functions directly, then the real thing in headless Chromium driven by Playwright."""
import os, re, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from superres.app import AppError, load_models, open_upload, restore_upload
from superres.models import restorer

def photo(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

def test_restore_upload_gives_slider_pair_file_and_status(tmp_path):
    photo(40, 30).save(tmp_path/'p.png')
    calls = []
    models = {'superres': restorer().eval()}
    (before, after), saved, status = restore_upload(models, tmp_path/'p.png', 'superres', scale=2, tile=32, overlap=4,
                                                    progress=lambda done, total: calls.append((done, total)))
    assert before.size == after.size == (80, 60) and Image.open(saved).size == (80, 60)
    assert status.startswith('40x30 -> 80x60') and calls and calls[-1][0] == calls[-1][1] > 1

def test_app_refuses_clearly(tmp_path):
    (tmp_path/'notes.txt').write_text('not an image')
    photo(200, 100).save(tmp_path/'big.png')
    models = load_models()
    with pytest.raises(AppError, match='not an image superres can read'): open_upload(tmp_path/'notes.txt')
    with pytest.raises(AppError, match=r'200x100 \(0.0 MP\); this app takes up to 0.0 MP'): open_upload(tmp_path/'big.png', 10_000)
    with pytest.raises(AppError, match='upload or drop'): restore_upload(models, None, 'superres')
    with pytest.raises(AppError, match='no model for .jpeg.'): restore_upload(models, tmp_path/'big.png', 'jpeg')

def chromium():
    exe = os.environ.get('CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')
    if exe: return exe
    if os.environ.get('CI'): pytest.fail('CI must run the browser test: install chromium (apt-get install chromium)')
    pytest.skip('no chromium on this machine (apt-get install chromium)')

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

@pytest.fixture
def app_url(tmp_path):
    port = free_port()
    log = open(tmp_path/'app.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'superres', 'app', '--port', str(port), '--max-pixels', '50000', '--max-upload-mb', '1'],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED='False'))
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

def test_app_in_a_real_browser(app_url, tmp_path):
    exe = chromium()
    url, proc, log = app_url
    from playwright.sync_api import expect, sync_playwright
    from matplotlib import cbook
    with Image.open(cbook.get_sample_data('grace_hopper.jpg')) as im: im.crop((150, 60, 350, 210)).save(tmp_path/'photo.jpg')
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
        expect(page.get_by_text(re.compile(r'300x200 \(0.1 MP\); this app takes up to 0.1 MP'))).to_be_visible(timeout=60_000)
        page.reload()
        page.locator('#upload input[type=file]').set_input_files(str(tmp_path/'heavy.png'))  # 1.2 MiB against a 1 MiB limit
        expect(page.get_by_text(re.compile('exceed', re.I)).first).to_be_visible(timeout=60_000)
        browser.close()
    folder = Path(re.search(r'uploads and results stay in (\S+)', log.read_text()).group(1))
    if Path('/dev/shm').is_dir(): assert folder.parent == Path('/dev/shm')  # RAM, not disk
    kept = [f.name for f in folder.rglob('*') if f.is_file()]
    assert 'photo.jpg' in kept and 'photo_superres.png' in kept, kept  # the upload and the result, both in that folder
    proc.terminate(); proc.wait(30)
    assert not folder.exists()  # removed when the app stops
