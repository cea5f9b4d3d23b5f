"""Boxes of one object per image, as Tiny ImageNet annotates them: box <-> mask, IoU, and the best constant box.

A box is (x0, y0, x1, y1) in pixel columns and rows, both ends included, as in the annotation files: the box
(0, 0, 63, 63) covers a whole 64x64 image, and a box's IoU is the IoU of the pixel masks it covers.
"""
import torch

__all__ = ['NO_BOX', 'box_iou', 'box_masks', 'mask_boxes', 'pixel_iou', 'best_constant_box']

NO_BOX = (0, 0, -1, -1)  # the box of an empty mask: no pixel, IoU 0 with any box

def _area(b): return (b[..., 2] - b[..., 0] + 1).clamp(min=0) * (b[..., 3] - b[..., 1] + 1).clamp(min=0)

def box_iou(a, b):
    "IoU of boxes `a` and `b` (broadcast, (..., 4)) in pixels: the IoU of the masks they cover."
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    lo, hi = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = _area(torch.cat([lo, hi], -1))
    union = _area(a) + _area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))  # two empty boxes agree

def box_masks(boxes,  # boxes (..., 4) as (x0, y0, x1, y1), both ends included
              height,  # the rows of each mask
              width):  # the columns of each mask
    "Boolean masks (..., height, width) of `boxes` (..., 4): True inside each box."
    b = torch.as_tensor(boxes, dtype=torch.long)[..., None, None]
    ys, xs = torch.arange(height)[:, None], torch.arange(width)[None, :]
    return (xs >= b[..., 0, :, :]) & (xs <= b[..., 2, :, :]) & (ys >= b[..., 1, :, :]) & (ys <= b[..., 3, :, :])

def mask_boxes(masks):
    "The box around the True pixels of each mask (..., h, w), as (..., 4) longs; `NO_BOX` for an empty mask."
    masks = torch.as_tensor(masks).bool()
    rows, cols = masks.any(-1), masks.any(-2)
    def ends(hit):
        idx = torch.arange(hit.shape[-1]).expand_as(hit)
        return torch.where(hit, idx, hit.shape[-1]).amin(-1), torch.where(hit, idx, -1).amax(-1)
    (x0, x1), (y0, y1) = ends(cols), ends(rows)
    boxes = torch.stack([x0, y0, x1, y1], -1)
    return torch.where(masks.flatten(-2).any(-1)[..., None], boxes, torch.tensor(NO_BOX))

def pixel_iou(pred, targ):
    "IoU of boolean masks (..., h, w), one per image (two empty masks agree: 1)."
    pred, targ = torch.as_tensor(pred).bool(), torch.as_tensor(targ).bool()
    inter, union = (pred & targ).flatten(-2).sum(-1), (pred | targ).flatten(-2).sum(-1)
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union, dtype=torch.float))

def _mean_iou(cands, boxes, counts, chunk=64):
    "Mean IoU of each candidate box over `boxes`, each weighted by how often it occurs."
    return torch.cat([(box_iou(cands[i:i+chunk, None], boxes[None]) * counts).sum(-1) / counts.sum()
                      for i in range(0, len(cands), chunk)])

def _all_boxes(values):
    "Every box whose coordinates are taken from `values` (x0 <= x1, y0 <= y1)."
    v = torch.as_tensor(values)
    spans = torch.combinations(v, 2, with_replacement=True)
    return torch.cat([spans[:, None, :1].expand(-1, len(spans), 1), spans[None, :, :1].expand(len(spans), -1, 1),
                      spans[:, None, 1:].expand(-1, len(spans), 1), spans[None, :, 1:].expand(len(spans), -1, 1)],
                     -1).reshape(-1, 4)

def best_constant_box(boxes,  # the images' boxes (n, 4), both ends included
                      size=64,  # the images' side in pixels
                      step=8):  # the spacing in pixels of the first grid of candidate boxes
    """The one box with the highest mean IoU over `boxes` (n, 4) in `size`x`size` images, and that IoU: the answer of a
    segmenter that never looks. Found by every box on a `step` grid, then coordinate ascent pixel by pixel."""
    uniq, counts = torch.unique(torch.as_tensor(boxes, dtype=torch.long), dim=0, return_counts=True)
    grid = _all_boxes(sorted(set(range(0, size, step)) | {size - 1}))
    scores = _mean_iou(grid, uniq, counts)
    best, score = grid[scores.argmax()].clone(), float(scores.max())
    pixels = torch.arange(size)
    while True:
        before = score
        for j in range(4):  # one coordinate at a time, to every value that keeps the box a box
            cands = best.repeat(size, 1)
            cands[:, j] = pixels
            cands = cands[(cands[:, 0] <= cands[:, 2]) & (cands[:, 1] <= cands[:, 3])]
            s = _mean_iou(cands, uniq, counts)
            if float(s.max()) > score: best, score = cands[s.argmax()].clone(), float(s.max())
        if score <= before: return tuple(best.tolist()), score
