"""Segmentation of Tiny ImageNet's main object (issue 35): UNets trained on the masks of the boxes for the same epochs,
pretrained encoder against scratch, each scored on all 10,000 val images against the best constant box.

    python bench/segmentation.py --data ../shared/data/tiny-imagenet-200.zip --out runs/bench-seg
    python bench/segmentation.py --data ../shared/data/tiny-imagenet-200.zip --out runs/bench-seg \
        --only tiny_unet-pretrained --per-class 25 --epochs 4 --tag=-long     # longer: more images, one more epoch
"""
import argparse
import json
import time
from pathlib import Path

from superres.configs import DataConfig, FineTuneConfig
from superres.evaluate import evaluate_segmenter
from superres.hub import load_segmenter
from superres.recipes import train_segmenter

DATA = dict(classes=200, val_per_class=2, bs=32, erase=0, num_workers=0)  # and lr 3e-3, seed 0
RUNS = {  # name: (arch, pretrained); the pretrained ones train 1 of their epochs with the encoder frozen
    'tiny_unet-pretrained': ('tiny_unet', True), 'tiny_unet-scratch': ('tiny_unet', False),
    'dynamic_unet-pretrained': ('dynamic_unet', True), 'dynamic_unet-scratch': ('dynamic_unet', False)}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--out', default='runs/bench-seg')
    p.add_argument('--per-class', type=int, default=10); p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--size', type=int, default=32, help='the side the UNet works at')
    p.add_argument('--only', default=','.join(RUNS)); p.add_argument('--tag', default='', help='run folder suffix')
    a = p.parse_args()
    for name in a.only.split(','):
        arch, pretrained = RUNS[name]
        out = Path(a.out)/(name + a.tag)
        start = time.perf_counter()
        train_segmenter(out, DataConfig(a.data, per_class=a.per_class, size=a.size, **DATA),
                        FineTuneConfig(epochs=a.epochs - pretrained, freeze_epochs=1, lr=3e-3, seed=0), arch=arch,
                        pretrained=pretrained)
        train_wall, start = time.perf_counter() - start, time.perf_counter()
        scores = evaluate_segmenter(load_segmenter(out), a.data, progress=False)  # all val images, as segment predict
        trained = json.loads((out/'metrics.json').read_text())
        res = dict(run=name + a.tag, size=a.size, per_class=a.per_class, epochs=trained['epochs'],
                   train_wall_s=round(train_wall), eval_wall_s=round(time.perf_counter() - start),
                   train_imgs_per_s=round(trained['train_imgs_per_s'], 1), **scores)
        print(json.dumps(res), flush=True)
        with open(Path(a.out)/'results.jsonl', 'a') as f: f.write(json.dumps(res) + '\n')
