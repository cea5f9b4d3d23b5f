"""Images in and out: normalisation statistics measured on the data itself."""
import numpy as np
from PIL import Image

from superres.images import image_stats
from superres.tinyimagenet import TinyImageNet


def test_image_stats_match_numpy(tiny_root):
    files = TinyImageNet(tiny_root, classes=2).train_files()
    mean, std = image_stats(files)
    a = np.concatenate([np.asarray(Image.open(f).convert('RGB'), dtype=np.float64).reshape(-1, 3) / 255 for f in files])
    np.testing.assert_allclose(mean, a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, a.std(0), rtol=1e-6)

def _image_open_callers():
    "(module, enclosing function or <module>) of every `Image.open(` call in the package."
    import ast
    from pathlib import Path

    import superres
    found = set()
    def visit(node, path, where):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'open'
                and isinstance(node.func.value, ast.Name) and node.func.value.id == 'Image'):
            found.add((path.name, where))
        inner = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
        for child in ast.iter_child_nodes(node): visit(child, path, inner)
    for path in Path(superres.__file__).parent.rglob('*.py'): visit(ast.parse(path.read_text()), path, '<module>')
    return found

def test_every_image_file_is_read_by_the_one_reader():
    "Training, evaluation, FID, inference, folders and the app read files through `images`; a new opener fails here."
    assert _image_open_callers() == {('images.py', '_opened'),  # header, bomb check: under every reader
                                     ('degradations.py', 'apply')}  # JpegCompress decoding bytes it just encoded

def test_training_images_are_read_upright(tmp_path):
    "A photo with an EXIF rotation trains as it is shown (as `evaluate` and `upscale` read it), not as stored."
    from superres.images import load_rgb, open_image
    a = np.zeros((20, 30, 3), np.uint8); a[:, :10] = 255  # white on the left
    exif = Image.Exif(); exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    Image.fromarray(a).save(tmp_path/'rotated.jpg', exif=exif.tobytes(), quality=95)
    img = load_rgb(tmp_path/'rotated.jpg')
    assert img.size == (20, 30) and img.mode == 'RGB' and img.getpixel((10, 2))[0] > 200  # white on top now
    assert np.array_equal(np.asarray(img), np.asarray(open_image(tmp_path/'rotated.jpg').convert('RGB')))
