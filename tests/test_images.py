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
