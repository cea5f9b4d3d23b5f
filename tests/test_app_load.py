"""The app under load: eight concurrent clients drive the real `superres app` through its HTTP API, every good upload
comes back as a correct image, every bad one as a clear message, memory stays bounded, nothing is left behind."""

import pytest
from app_driving import run_load

PEAK_RSS_MIB = 1500  # measured: see BENCHMARKS.md, "The app under load"

@pytest.mark.slow
def test_eight_concurrent_clients(tmp_path):
    pytest.importorskip('gradio_client')
    r = run_load(clients=8, rounds=1, workdir=tmp_path, concurrency=2)
    assert r['requests'] == 8 * 7 and r['failed'] == [], r['failed']  # 5 photos, one too big, one not an image
    assert r['peak_rss_mib'] < PEAK_RSS_MIB, r
    assert r['left_behind'] == []  # the upload folder is gone once the app stops
