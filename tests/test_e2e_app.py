"""The web app end to end: the real thing served by `superres app`, in headless Chromium driven by Playwright, through
gradio_client, and through its HTTP API spoken directly, as a hostile client would."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import chromium, free_port, run_cli
from PIL import Image
from test_app import mode_files


def photo(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

@contextmanager
def running_app(log_path, *args):
    "`superres app ARGS` on a free port until the block ends: (url, process, its log file)."
    port = free_port()
    log = open(log_path, 'w')
    cmd = [sys.executable, '-m', 'superres', 'app', '--port', str(port), *map(str, args)]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(240):
            if proc.poll() is not None: pytest.fail(f'the app exited: {Path(log_path).read_text()}')
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'the app did not start: {Path(log_path).read_text()}')
        yield url, proc, Path(log_path)
    finally:
        proc.terminate()
        proc.wait(30)

def app_folder(log):
    return Path(re.search(r'uploads and results stay in (\S+)', log.read_text()).group(1))

@pytest.fixture
def app_url(tmp_path):
    with running_app(tmp_path/'app.log', '--max-pixels', 50000, '--max-upload-mb', 1) as running: yield running

def cli_pixels(src, tmp_path):
    "What `superres upscale` writes for `src`, as an array; a JPEG's bytes named .png, so the CLI writes it lossless."
    same_bytes = tmp_path/'cli-in'/f'{src.stem}.png'
    same_bytes.parent.mkdir(exist_ok=True)
    same_bytes.write_bytes(src.read_bytes())
    r = run_cli('upscale', same_bytes, '-o', tmp_path/'cli-out')
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path/'cli-out'/same_bytes.name) as im: return im.mode, np.asarray(im).astype(int)

def assert_same_pixels(result, src, tmp_path):
    "The app's result for `src` is the CLI's, within 1/255."
    mode, expected = cli_pixels(src, tmp_path)
    with Image.open(result) as im: got_mode, got = im.mode, np.asarray(im).astype(int)
    assert got_mode == mode and got.shape == expected.shape, (src.name, got_mode, mode)
    assert np.abs(got - expected).max() <= (257 if mode.startswith('I') else 1) and got.std() > 0, src.name

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
        page.set_default_timeout(120_000)  # Gradio's page builds itself in the browser: slow on a busy 2-core CI
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
        gray16 = mode_files(tmp_path/'modes')['gray16.png']
        page.reload()
        page.locator('#upload input[type=file]').set_input_files(str(gray16))
        page.locator('#run').click()
        expect(page.locator('#status textarea')).to_have_value(re.compile(r'40x30 -> 80x60'), timeout=120_000)
        with page.expect_download() as download:
            page.locator('#result a[download]').first.click()
        assert_same_pixels(download.value.path(), gray16, tmp_path)  # 16 bits, as the CLI writes them
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
    folder = app_folder(log)
    if Path('/dev/shm').is_dir(): assert folder.parent == Path('/dev/shm')  # RAM, not disk
    kept = [f.name for f in folder.rglob('*') if f.is_file()]
    assert 'photo.jpg' in kept and 'photo_superres.png' in kept, kept  # the upload and the result, both in that folder
    proc.terminate(); proc.wait(30)
    assert not folder.exists()  # removed when the app stops

@pytest.mark.slow
def test_the_app_gives_the_pixels_of_the_cli_in_every_mode(tmp_path):
    from gradio_client import Client, handle_file
    with running_app(tmp_path/'app.log') as (url, _, _):
        client = Client(url, verbose=False, download_files=str(tmp_path/'downloads'))
        for name, src in mode_files(tmp_path/'modes').items():
            _, result, status = client.predict(handle_file(str(src)), 'superres', 2, 'right', 0.25, api_name='/restore')
            assert status.startswith('40x30 -> 80x60'), status
            assert_same_pixels(result, src, tmp_path)

class RawClient:
    "The app's queue API spoken directly (no gradio_client): a request may carry any FileData, as a hostile one would."
    def __init__(self, url):
        import httpx
        self.http = httpx.Client(timeout=120)
        config = self.http.get(url + 'config').json()
        self.api = url.rstrip('/') + config.get('api_prefix', '/gradio_api')
        self.fn = next(d['id'] for d in config['dependencies'] if d.get('api_name') == 'restore')
    def upload(self, path):
        "POST a file to /upload: (status code, the stored path or the refusal)."
        with open(path, 'rb') as f: r = self.http.post(self.api + '/upload', files={'files': (Path(path).name, f)})
        return r.status_code, r.json()[0] if r.status_code == 200 else r.text
    def restore(self, filedata):
        "Run the restore endpoint on `filedata`: (status code of the request, the app's answer or error message)."
        session = os.urandom(8).hex()
        r = self.http.post(self.api + '/queue/join', json={'data': [filedata, 'superres', 2, 'right', 0.25],
                                                           'fn_index': self.fn, 'session_hash': session})
        if r.status_code != 200: return r.status_code, r.text
        with self.http.stream('GET', self.api + '/queue/data', params={'session_hash': session}) as events:
            for line in events.iter_lines():
                message = json.loads(line[5:]) if line.startswith('data:') else {}
                if message.get('msg') == 'process_completed':
                    out = message['output']
                    return 200, out.get('error') if 'error' in out else out['data']

def data_uri(path): return 'data:image/png;base64,' + base64.b64encode(Path(path).read_bytes()).decode()

BOMB_RSS_MIB = 100  # the app's memory growth while refusing a 100 MP bomb; it decoded it (+450-1500 MiB) before

@pytest.mark.slow
def test_limits_hold_for_every_way_a_file_arrives(tmp_path):
    from app_driving import PeakRSS
    Image.new('L', (10_000, 10_000)).save(tmp_path/'bomb.png')  # 100 MP of gray in 100 KB
    (tmp_path/'heavy.png').write_bytes(os.urandom(int(1.5 * 2**20)))
    photo(40, 30).save(tmp_path/'small.png')
    with running_app(tmp_path/'app.log', '--max-pixels', 50000, '--max-upload-mb', 1, '--max-storage-mb', 3) as (
            url, proc, log):
        app = RawClient(url)
        code, stored = app.upload(tmp_path/'bomb.png')
        assert code == 200
        ways = {'/upload': {'path': stored, 'meta': {'_type': 'gradio.FileData'}},
                'data: URI': {'path': data_uri(tmp_path/'bomb.png'), 'orig_name': 'bomb.png'},
                'data: URI beside a stored path': {'path': stored, 'url': data_uri(tmp_path/'bomb.png')}}
        for way, filedata in ways.items():
            meter = PeakRSS(proc.pid); meter.start()
            idle = meter.proc.memory_info().rss
            code, answer = app.restore(filedata)
            meter.done.set(); meter.join()
            assert code == 200 and 'the image is 10000x10000 (100.0 MP); this app takes up to 0.1 MP' in answer, way
            assert meter.peak - idle < BOMB_RSS_MIB * 2**20, (way, (meter.peak - idle) / 2**20)
        # over --max-upload-mb, refused unread on every way in
        assert app.upload(tmp_path/'heavy.png')[0] == 413
        code, answer = app.restore({'path': data_uri(tmp_path/'heavy.png'), 'orig_name': 'heavy.png'})
        assert code == 413 and 'this app takes requests up to 1.1 MiB' in answer
        # a URL is never fetched, a file outside the app's folder never read
        url_file = {'path': 'https://example.com/photo.png', 'meta': {'_type': 'gradio.FileData'}}
        assert 'fetches no URLs' in app.restore(url_file)[1]
        assert 'reads only files uploaded to it' in app.restore({'path': str(tmp_path/'small.png')})[1]
        # a good upload still works, and the folder stays within --max-storage-mb however much is uploaded
        answer = app.restore({'path': app.upload(tmp_path/'small.png')[1], 'meta': {'_type': 'gradio.FileData'}})[1]
        assert isinstance(answer, list) and answer[2].startswith('40x30 -> 80x60'), answer
        for i in range(6):
            (tmp_path/f'fill{i}.bin').write_bytes(os.urandom(900_000))
            assert app.upload(tmp_path/f'fill{i}.bin')[0] == 200
        held = sum(f.stat().st_size for f in app_folder(log).rglob('*') if f.is_file())
        assert held <= 3 * 2**20, held
