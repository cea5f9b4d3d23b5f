"""The web app under load: N concurrent clients drive a running `superres app` through its HTTP API (gradio_client),
each uploading real photos of mixed sizes, one over the pixel limit and one that is not an image. Reports requests/s,
p50/p95 latency, the server's peak RSS (with its children), and what was left in its upload folder after it stopped.
`tests/test_app_load.py` runs a short version of the drive, `bench/app_load.py` the table of BENCHMARKS.md.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

MAX_PIXELS = 200_000

def workload(folder):
    "(file, expected) pairs: an output size for a photo, or a piece of the refusal message for a bad upload."
    from matplotlib import cbook
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    with Image.open(cbook.get_sample_data('grace_hopper.jpg')) as im: hopper = im.convert('RGB')
    with Image.open(cbook.get_sample_data('Minduka_Present_Blue_Pack.png')) as im: pack = im.copy()
    jobs = []
    for name, img in (('hopper_small.jpg', hopper.crop((150, 60, 246, 124))),  # 96x64
                      ('hopper_mid.png', hopper.crop((100, 40, 340, 220))),  # 240x180
                      ('hopper_gray.jpg', hopper.resize((160, 188)).convert('L')),
                      ('pack_rgba.png', pack.resize((128, 128))),
                      ('hopper_big.jpg', hopper.resize((400, 468)))):  # 187 KP: near the limit
        img.save(folder/name)
        jobs.append((folder/name, (img.width * 2, img.height * 2)))
    hopper.resize((600, 700)).save(folder/'over_limit.jpg')  # 420 KP
    jobs.append((folder/'over_limit.jpg', 'this app takes up to'))
    (folder/'notes.png').write_text('this is not an image\n')
    jobs.append((folder/'notes.png', 'is not an image superres can read'))
    return jobs

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

@contextmanager
def serve(log_path, concurrency=None, max_pixels=MAX_PIXELS, timeout=240, model=None):
    "`superres app` in a subprocess until the block ends: (url, process, its upload folder)."
    port = free_port()
    cmd = [sys.executable, '-m', 'superres', 'app', '--port', str(port), '--max-pixels', str(max_pixels),
           *(['--concurrency', str(concurrency)] if concurrency else []), *(['--model', str(model)] if model else [])]
    log = open(log_path, 'w')
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None: raise RuntimeError(f'the app exited: {Path(log_path).read_text()[-2000:]}')
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if time.time() > deadline: raise RuntimeError(f'the app did not start: {Path(log_path).read_text()}')
                time.sleep(0.5)
        folder = Path(re.search(r'uploads and results stay in (\S+)', Path(log_path).read_text()).group(1))
        yield url, proc, folder
    finally:
        proc.terminate()
        proc.wait(60)

class PeakRSS(threading.Thread):
    "Samples a process's resident memory with its children's every 50 ms; `.peak` in bytes."
    def __init__(self, pid):
        super().__init__(daemon=True)
        import psutil
        self.proc, self.peak, self.done = psutil.Process(pid), 0, threading.Event()
    def run(self):
        import psutil
        while not self.done.wait(0.05):
            try: procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.NoSuchProcess: return
            rss = 0
            for p in procs:
                try: rss += p.memory_info().rss
                except psutil.NoSuchProcess: pass
            self.peak = max(self.peak, rss)

def _one(client, path, expected, download):
    "One request: (seconds, whether it did what `expected` says, what came back)."
    from gradio_client import handle_file
    t = time.perf_counter()
    try:
        _, result, status = client.predict(handle_file(str(path)), 'superres', 2, 'right', 0.25, api_name='/restore')
        seconds = time.perf_counter() - t
        with Image.open(result) as im: size = im.size
        return seconds, size == expected, f'{status} [{size}]'
    except Exception as e:  # gradio_client's AppError carries the app's message
        return time.perf_counter() - t, isinstance(expected, str) and expected in str(e), f'refused: {e}'

def drive(url, clients, jobs, rounds=1):
    "Every client sends every job `rounds` times at once from its own thread: per request (file, seconds, ok, reply)."
    from gradio_client import Client
    results, lock = [], threading.Lock()
    def client_run(k):
        download = tempfile.mkdtemp(prefix=f'client{k}-')
        client = Client(url, verbose=False, download_files=download, analytics_enabled=False,
                        httpx_kwargs={'timeout': 600})
        for r in range(rounds):
            for path, expected in jobs[k % len(jobs):] + jobs[:k % len(jobs)]:  # clients start at different files
                row = (path.name, *_one(client, path, expected, download))
                with lock: results.append(row)
        shutil.rmtree(download, ignore_errors=True)
    threads = [threading.Thread(target=client_run, args=(k,)) for k in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    return results

def run_load(clients, rounds, workdir, concurrency=None):
    "Serve, drive, stop: the figures for one number of clients."
    jobs = workload(Path(workdir)/'photos')
    with serve(Path(workdir)/f'app-{clients}.log', concurrency) as (url, proc, folder):
        meter = PeakRSS(proc.pid); meter.start()
        idle = meter.proc.memory_info().rss
        t = time.perf_counter()
        results = drive(url, clients, jobs, rounds)
        wall = time.perf_counter() - t
        meter.done.set(); meter.join()
    left = sorted(str(p) for p in folder.rglob('*')) if folder.exists() else []
    good = sorted(r[1] for r in results if r[0] not in ('over_limit.jpg', 'notes.png'))
    def pct(q): return good[min(len(good) - 1, int(q * len(good)))]
    return dict(clients=clients, requests=len(results), failed=[r for r in results if not r[2]],
                requests_per_s=round(len(results) / wall, 2), p50_s=round(pct(0.5), 2), p95_s=round(pct(0.95), 2),
                idle_rss_mib=round(idle / 2**20), peak_rss_mib=round(meter.peak / 2**20), left_behind=left)
