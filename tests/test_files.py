"""Files superres writes: atomically, with the permissions a plain write would give."""
import os

from superres.files import atomic_write_text


def test_atomic_writes_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try: f = atomic_write_text(tmp_path/'a.txt', 'x')
    finally: os.umask(umask)
    assert (f.stat().st_mode & 0o777) == 0o644 and not list(tmp_path.glob('.a.txt.*'))
