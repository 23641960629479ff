"""clipmill: read clipmill training datasets (docs/reader.md).

    from clipmill import Dataset
    ds = Dataset("corpus/datasets/v1", "train")
    clip = ds[0]                         # (T, H, W, 3) uint8 numpy array
    win = ds.window(0, start=32, frames=16, stride=1, pad_to=4)   # (16, 92, 160, 3)

PyTorch (imported lazily, only when used):

    from clipmill.torch import WindowDataset
"""
from .reader import Dataset, ReaderError, library_path

__all__ = ["Dataset", "ReaderError", "library_path"]
