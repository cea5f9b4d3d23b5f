"""FID/KID sanity on real data: two halves of Tiny ImageNet val, increasing blur and downscaling, and the lecture's bug.

Features come from a superres classifier; every number is computed by `superres.metrics.feature_distances`.
"""
import argparse
import json

import torch
from PIL import Image, ImageFilter

from superres.errors import ContractError
from superres.fid import feature_distances
from superres.files import list_images
from superres.hub import load_classifier
from superres.images import image_to_tensor
from superres.tinyimagenet import find_tiny_imagenet


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--classifier', required=True)
    p.add_argument('--n', type=int, default=2000, help='val images, split into two halves')
    a = p.parse_args()
    clf = load_classifier(a.classifier)
    imgs = [Image.open(f).convert('RGB') for f in list_images(find_tiny_imagenet(a.data)/'val'/'images')[:a.n]]
    real, other = imgs[0::2], imgs[1::2]
    tensors = lambda ims: torch.stack([image_to_tensor(i)[0] for i in ims])
    def row(name, b, a_=real, **kw):
        try: r = feature_distances(a_, b, clf, **kw)
        except ContractError as e: r = dict(refused=str(e))
        print(json.dumps(dict(set=name, **r)), flush=True)
    row('val half B', other)
    for r in (0.5, 1, 2, 4): row(f'blur {r}', [i.filter(ImageFilter.GaussianBlur(r)) for i in other])
    for s in (2, 4, 8): row(f'down x{s} bicubic', [i.resize((64//s,) * 2, Image.BICUBIC).resize((64, 64), Image.BICUBIC)
                                                   for i in other])
    ta, tb = tensors(real), tensors([i.filter(ImageFilter.GaussianBlur(2)) for i in other])
    norm = clf[0]
    bypassed = lambda x: (x - 0.5) * norm.std + norm.mean  # the network sees x - 0.5 instead of its own normalisation
    for check in (True, False):
        row(f'blur 2, images in [-0.5, 0.5], guard {"on" if check else "off"}', tb - 0.5, ta - 0.5, check=check)
        row(f'blur 2, normalisation bypassed, guard {"on" if check else "off"}', bypassed(tb), bypassed(ta),
            check=check)

if __name__ == '__main__': main()
