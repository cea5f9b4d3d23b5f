"""superres: Tiny ImageNet classification and image restoration with fastai."""
__version__ = '0.1.0'
