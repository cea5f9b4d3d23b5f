"""Folder runs: results keep the source's orientation and colour profile, never overwrite a file or an input, resume
after a SIGKILL without redoing anything, and a failed write (a full disk) loses nothing else."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import noise, run_cli
from PIL import Image

from superres.errors import UsageError
from superres.folders import RESUME_FILE, restore_files
from superres.models import restorer


def test_exif_orientation_icc_and_never_overwrite(tmp_path):
    img = Image.new('RGB', (20, 10), (10, 200, 30))
    exif = img.getexif(); exif[0x0112] = 6  # rotate 90 on display
    icc = b'fake-icc-profile' * 4
    img.save(tmp_path/'in.jpg', exif=exif.tobytes(), icc_profile=icc)
    model = restorer().eval()
    out_dir = tmp_path/'out'
    res = restore_files(model, [tmp_path/'in.jpg'], out_dir)
    with Image.open(out_dir/'in.jpg') as o:
        assert o.size == (20, 40) and o.info.get('icc_profile') == icc and o.getexif().get(0x0112, 1) == 1
    before = (out_dir/'in.jpg').read_bytes()
    res = restore_files(model, [tmp_path/'in.jpg'], out_dir)
    assert res[0].status == 'skipped' and 'exists' in res[0].notes[0] and (out_dir/'in.jpg').read_bytes() == before
    with pytest.raises(UsageError, match='is an input'): restore_files(model, [tmp_path/'in.jpg'], tmp_path)

def _photos(folder, n, size=(160, 120)):
    folder.mkdir()
    for i in range(n): noise(*size, seed=i).save(folder/f'img_{i}.png')
    return folder

def _upscaled(out):
    "The outputs in `out` that are the new, upscaled ones (an older run's have the input size)."
    done = []
    for p in out.glob('img_*.png'):
        with Image.open(p) as im:
            if im.size == (320, 240): done.append(p)
    return done

def _kill_after(cmd, out, n):
    "Start `cmd`, SIGKILL it once `n` outputs are upscaled: name -> modification time of those done then."
    proc = subprocess.Popen([sys.executable, '-m', 'superres', *map(str, cmd)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and not (out.is_dir() and len(_upscaled(out)) >= n):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL); proc.wait()
    done = _upscaled(out)
    assert n <= len(done) < 40, 'the run must be killed mid-folder'
    journal = out/RESUME_FILE
    if journal.exists():  # --overwrite: an output renamed into place but killed before its journal line is redone
        logged = {json.loads(line)[0] for line in journal.read_text().splitlines()[1:]}
        assert len(done) - len(logged) <= 1, 'only the output being journaled when killed may miss its line'
        done = [p for p in done if p.name in logged]
    return {p.name: p.stat().st_mtime_ns for p in done}

@pytest.mark.slow
@pytest.mark.parametrize('overwrite', [False, True])
def test_folder_run_killed_mid_way_resumes_without_redoing_anything(sr_model, tmp_path, overwrite):
    src, out = _photos(tmp_path/'in', 40), tmp_path/'out'
    if overwrite: shutil.copytree(src, out)  # an older run's outputs, which --overwrite replaces
    cmd = ['upscale', src, '-o', out, '--model', sr_model, *(['--overwrite'] if overwrite else [])]
    before = _kill_after(cmd, out, 3)
    for name in before:
        with Image.open(out/name) as im: im.load()  # no output under its final name is half-written
    (out/'.img_39.png.partial-killed.png').write_bytes(b'\x89PNG half')  # as a write killed mid-file leaves
    r = run_cli(*cmd)
    assert r.returncode == 0, r.stderr
    assert f'40 images: {40 - len(before)} written, {len(before)} skipped' in r.stdout, r.stdout
    assert {n: (out/n).stat().st_mtime_ns for n in before} == before  # nothing finished was redone
    assert len(_upscaled(out)) == 40
    assert sorted(p.name for p in out.iterdir()) == sorted(f'img_{i}.png' for i in range(40))  # no partial, no journal
    r = run_cli(*cmd)  # the run finished: the same command again starts afresh (overwrite) or skips all
    assert f'40 images: {40 if overwrite else 0} written' in r.stdout, r.stdout

def test_a_full_disk_fails_that_output_only(tmp_path, monkeypatch):
    for name in 'abc': noise(12, 8).save(tmp_path/f'{name}.png')
    save = Image.Image.save
    def full_disk(self, fp, *args, **kwargs):
        if '.b.png' in str(fp):  # the partial file of b.png: some bytes, then the disk is full
            open(fp, 'wb').write(b'\x89PNG\r\n')
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(self, fp, *args, **kwargs)
    monkeypatch.setattr(Image.Image, 'save', full_disk)
    res = restore_files(restorer().eval(), [tmp_path/f'{n}.png' for n in 'abc'], tmp_path/'out')
    assert [r.status for r in res] == ['written', 'failed', 'written']
    assert res[1].notes == [f'could not write {tmp_path/"out"/"b.png"}: No space left on device']
    assert sorted(p.name for p in (tmp_path/'out').iterdir()) == ['a.png', 'c.png']  # no partial b.png anywhere

def test_folders_keep_their_tree_and_skip_the_output_inside_them(tmp_path):
    for sub in ('x', 'y'):
        (tmp_path/'in'/sub).mkdir(parents=True)
        noise(6, 4).save(tmp_path/'in'/sub/'same.png')
    res = restore_files(restorer().eval(), [tmp_path/'in'], tmp_path/'in'/'out')
    assert [r.dest for r in res] == [tmp_path/'in'/'out'/'x'/'same.png', tmp_path/'in'/'out'/'y'/'same.png']
    again = restore_files(restorer().eval(), [tmp_path/'in'], tmp_path/'in'/'out')  # its outputs are not inputs
    assert len(again) == 2 and {r.status for r in again} == {'skipped'}
