"""Tiny ImageNet: found (or downloaded), extracted once, validated with every problem named; its items and labels."""
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import N_VAL, wnid, zip_folder

from superres.errors import DataError
from superres.files import cache_dir
from superres.tinyimagenet import TinyImageNet, find_tiny_imagenet, is_val, validate_tiny_imagenet


def test_find_folder_parent_and_env(tiny_root, monkeypatch):
    assert find_tiny_imagenet(tiny_root) == tiny_root
    assert find_tiny_imagenet(tiny_root.parent) == tiny_root
    monkeypatch.setenv('SUPERRES_DATA', str(tiny_root))
    assert find_tiny_imagenet() == tiny_root

def test_find_falls_back_to_fastai_data_folder(tiny_root, monkeypatch, tmp_path):
    monkeypatch.delenv('SUPERRES_DATA', raising=False)
    import fastai.data.external as ext
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tiny_root.parent)
    assert find_tiny_imagenet() == tiny_root
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tmp_path)
    with pytest.raises(DataError, match='not found'): find_tiny_imagenet(download=False)

def test_download_goes_to_fastai_data_folder(tiny_zip, monkeypatch, tmp_path):
    "With nothing local, the official URL is fetched (here: a stand-in that copies the fixture zip)."
    import fastai.data.external as ext
    import fastdownload
    monkeypatch.delenv('SUPERRES_DATA', raising=False)
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tmp_path)
    urls = []
    def fake_download(url, dest, show_progress=True):
        urls.append(url); Path(dest).write_bytes(tiny_zip.read_bytes())
    monkeypatch.setattr(fastdownload, 'download_url', fake_download)
    root = find_tiny_imagenet()
    assert urls == ['http://cs231n.stanford.edu/tiny-imagenet-200.zip']
    assert (tmp_path/'tiny-imagenet-200.zip').is_file() and (root/'wnids.txt').is_file()

def test_zip_extracted_once_into_cache(tiny_zip):
    root = find_tiny_imagenet(tiny_zip)
    assert cache_dir() in root.parents and (root/'wnids.txt').is_file()
    marker = root/'marker'
    marker.write_text('x')
    assert find_tiny_imagenet(tiny_zip) == root and marker.exists()  # reused, not re-extracted
    marker.unlink()

def test_interrupted_extraction_is_never_used(tiny_root, tmp_path, monkeypatch):
    z = zip_folder(tiny_root, tmp_path/'tiny-imagenet-200.zip')
    def broken(self, path=None, *a, **k):
        (Path(path)/'tiny-imagenet-200').mkdir(parents=True)
        raise OSError('disk full')
    monkeypatch.setattr(zipfile.ZipFile, 'extractall', broken)
    with pytest.raises(DataError, match='not a complete zip'): find_tiny_imagenet(z)
    monkeypatch.undo()
    root = find_tiny_imagenet(z)
    validate_tiny_imagenet(root)

def test_extraction_raced_by_another_process_uses_its_copy(tiny_root, tmp_path, monkeypatch):
    "Two processes extract the same zip at once: the one that renames second keeps the first one's copy, no error."
    z = zip_folder(tiny_root, tmp_path/'tiny-imagenet-200.zip')
    extract, winner = zipfile.ZipFile.extractall, []
    def raced(self, path=None, *a, **k):
        extract(self, path, *a, **k)
        if not winner:  # the other process finishes first, while this one is still extracting
            monkeypatch.setattr(zipfile.ZipFile, 'extractall', extract)
            winner.append(find_tiny_imagenet(z))
            (winner[0]/'marker').write_text('first')
    monkeypatch.setattr(zipfile.ZipFile, 'extractall', raced)
    root = find_tiny_imagenet(z)
    assert root == winner[0] and (root/'marker').read_text() == 'first'
    assert [p.name for p in root.parents[1].iterdir() if p.name.startswith('.')] == []  # its own copy removed

def test_partial_zip_is_a_clear_error(tiny_zip, tmp_path):
    part = tmp_path/'tiny-imagenet-200.zip'
    part.write_bytes(tiny_zip.read_bytes()[:len(tiny_zip.read_bytes())//2])
    with pytest.raises(DataError): find_tiny_imagenet(part)

def test_validation_names_what_is_missing(fresh_tiny):
    shutil.rmtree(fresh_tiny/'train'/wnid(5)/'images')
    ann = fresh_tiny/'val'/'val_annotations.txt'
    ann.write_text(ann.read_text() + 'val_x.JPEG\tn12345678\t0\t0\t1\t1\n')
    with pytest.raises(DataError) as e: validate_tiny_imagenet(fresh_tiny)
    msg = str(e.value)
    assert wnid(5) in msg and 'n12345678' in msg and 'val_x.JPEG' in msg

def test_validation_missing_files_and_class_count(fresh_tiny):
    (fresh_tiny/'val'/'val_annotations.txt').unlink()
    lines = (fresh_tiny/'wnids.txt').read_text().split()
    (fresh_tiny/'wnids.txt').write_text('\n'.join(lines[:150]))
    with pytest.raises(DataError) as e: validate_tiny_imagenet(fresh_tiny)
    assert 'val_annotations.txt' in str(e.value) and '150 classes' in str(e.value)

def test_missing_path_is_clear(tmp_path):
    with pytest.raises(DataError, match='does not exist'): find_tiny_imagenet(tmp_path/'nope')
    (tmp_path/'a.txt').write_text('x')
    with pytest.raises(DataError, match='not a zip'): find_tiny_imagenet(tmp_path/'a.txt')

def test_labels_names_and_subset(tiny_root):
    tin = TinyImageNet(tiny_root, classes=3, per_class=4)
    assert tin.wnids == [wnid(i) for i in range(3)]
    assert tin.names[wnid(1)] == 'thing1'
    train = tin.train_files()
    assert len(train) == 12 and [f.name for f in train[:4]] == [f'{wnid(0)}_{k}.JPEG' for k in range(4)]
    assert all(tin.label(f) == f.parent.parent.name for f in train)
    val = tin.val_files()
    assert len(val) == 3 * N_VAL and all(is_val(f) for f in val)
    assert [tin.label(f) for f in val] == [wnid(i) for i in range(3) for _ in range(N_VAL)]
