"""Folder runs: results keep the source's orientation and colour profile, and never overwrite a file or an input."""
import pytest
from PIL import Image

from superres.errors import UsageError
from superres.folders import restore_files
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
    assert 'exists' in res[0][2][0] and (out_dir/'in.jpg').read_bytes() == before
    with pytest.raises(UsageError, match='is an input'): restore_files(model, [tmp_path/'in.jpg'], tmp_path)
