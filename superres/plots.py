"""Pictures a run folder holds: training curves, restoration and segmentation results, an augmented batch; saved as
PNG, never shown."""
from pathlib import Path

import torch

from .files import atomic_path

__all__ = ['figure', 'save_figure', 'plot_history', 'show_results_png', 'show_masks_png', 'show_batch_png']

def figure(*args, **kwargs):
    "A matplotlib figure and its axes outside pyplot: no backend switched, nothing left open in a notebook."
    from matplotlib.figure import Figure
    fig = Figure(figsize=kwargs.pop('figsize', None))
    return fig, fig.subplots(*args, **kwargs)

def save_figure(fig, fname, **kwargs):
    "Save a matplotlib figure as PNG atomically (and close it if pyplot made it)."
    with atomic_path(fname) as tmp: fig.savefig(tmp, format='png', **kwargs)
    if fig.canvas.manager is not None:  # a pyplot figure: release it
        import matplotlib.pyplot as plt
        plt.close(fig)
    return Path(fname)

def plot_history(history, fname):
    "Loss and metric curves per epoch (from the CSV log, so a resumed run shows all of them) as a PNG."
    names = history.names[1:-1]
    rows = [r for r in history.rows if len(r) >= len(names) + 1]
    cols = {n: [float(r[i+1]) for r in rows] for i, n in enumerate(names)}
    epochs = range(1, len(rows) + 1)
    fig, (ax1, ax2) = figure(1, 2, figsize=(10, 4))
    for n in ('train_loss', 'valid_loss'): ax1.plot(epochs, cols[n], 'o-', label=n.split('_')[0])
    ax1.set_xlabel('epoch'); ax1.set_ylabel('loss'); ax1.legend()
    for n in names[2:]: ax2.plot(epochs, cols[n], 'o-', label=n)
    ax2.set_xlabel('epoch'); ax2.set_ylabel('metric'); ax2.legend()
    fig.tight_layout()
    return save_figure(fig, fname, dpi=100)

def show_results_png(learn,  # a restoration Learner: its model and validation data
                     fname,  # the PNG to write
                     n=6):  # rows, the first images of a validation batch
    "A grid of validation images, input | output | target, to judge a restoration model by eye."
    xb, yb = learn.dls.valid.one_batch()
    learn.model.eval()
    with torch.inference_mode(): pred = learn.model(xb[:n]).float().clamp(0, 1)
    n = len(pred)
    fig, axs = figure(n, 3, figsize=(6, 2*n), squeeze=False)
    for i in range(n):
        for ax, img, title in zip(axs[i], (xb[i], pred[i], yb[i]), ('input', 'output', 'target')):
            ax.imshow(img.as_subclass(torch.Tensor).float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_axis_off()
            if i == 0: ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, fname, dpi=80)

def show_masks_png(learn,  # a segmentation Learner: its model and validation data
                   fname,  # the PNG to write
                   n=6):  # validation images shown
    "fastai's `show_results` of a segmentation Learner (target, then predicted mask over each val image) as a PNG."
    import matplotlib.pyplot as plt  # fastai's show_results draws with pyplot
    learn.show_results(max_n=n, shuffle=False, figsize=(5, 2.5 * n))  # draws (`show=False` would draw nothing)
    return save_figure(plt.gcf(), fname, dpi=80, bbox_inches='tight')

def show_batch_png(data,  # Tiny ImageNet's zip or folder (None: as `classification_dls` finds it)
                   fname,  # the PNG to write
                   classes=None,  # the first n classes of wnids.txt (None: all 200)
                   per_class=None,  # training images per class (None: all 500)
                   n=16):  # images shown: one batch
    "Save a training batch, augmentations included, titled with class names rather than wnids."
    import matplotlib.pyplot as plt  # fastai's show_batch draws with pyplot

    from .data import classification_dls
    dls = classification_dls(data, classes=classes, per_class=per_class, bs=n, num_workers=0)
    dls.show_batch(max_n=n)  # draws into a pyplot figure (`show=False` would draw nothing)
    fig = plt.gcf()
    for ax in fig.axes: ax.set_title(dls.tin.names.get(ax.get_title(), ax.get_title()), fontsize=8)
    return save_figure(fig, fname, dpi=80, bbox_inches='tight')
