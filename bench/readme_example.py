"""The README's picture: a real photo (matplotlib's sample of Grace Hopper) downscaled x2, then restored.

    python bench/readme_example.py [--model RUN_DIR] [-o docs/images/grace_hopper_x2.png]
"""
import argparse

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib import cbook
from PIL import Image

from superres.hub import load_restorer
from superres.images import image_to_tensor
from superres.inference import upscale_image
from superres.metrics import psnr_y
from superres.plots import save_figure


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', help='restoration model (default: the one shipped with superres)')
    p.add_argument('-o', '--output', default='docs/images/grace_hopper_x2.png')
    p.add_argument('--box', type=int, nargs=4, default=(150, 60, 382, 292), help='crop shown: left top right bottom')
    a = p.parse_args()
    with Image.open(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)) as im: hr = im.convert('RGB')
    lr = hr.resize((hr.width // 2, hr.height // 2), Image.BICUBIC)
    outs = {'input x0.5 (shown nearest)': lr.resize(hr.size, Image.NEAREST),
            'bicubic': lr.resize(hr.size, Image.BICUBIC),
            'superres': upscale_image(load_restorer(a.model), lr)[0], 'original': hr}
    target = image_to_tensor(hr)[0][None]
    fig, axs = plt.subplots(1, len(outs), figsize=(4 * len(outs), 4.4))
    for ax, (name, img) in zip(axs, outs.items()):
        score = psnr_y(image_to_tensor(img)[0][None], target, shave=2)
        ax.imshow(img.crop(a.box)); ax.set_axis_off()
        ax.set_title(name if name == 'original' else f'{name}\nPSNR-Y {score:.2f} dB (whole image)')
    fig.tight_layout()
    print(save_figure(fig, a.output, dpi=100, bbox_inches='tight'))

if __name__ == '__main__': main()
