"""superres: upscaling and restoring photos, and learning to train such models with fastai."""
__version__ = '0.1.0'
__all__ = ['upscale']

def __getattr__(name):
    "`superres.upscale`, imported on first use so that `import superres` stays as light as a version string."
    if name == 'upscale':
        from .api import upscale
        return upscale
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
