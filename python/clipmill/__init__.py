"""clipmill: read clipmill training datasets (docs/reader.md).

    from clipmill import Dataset
    ds = Dataset("corpus/datasets/v1", "train")
    clip = ds[0]                         # (T, H, W, 3) uint8 numpy array
    win = ds.window(0, start=32, frames=16, stride=1, pad_to=4)   # (16, 92, 160, 3)

Token sets (docs/tokens.md): clipmill.TokenWriter writes a tokenizer's codes
for every clip, clipmill.Tokens reads token windows.

PyTorch (imported lazily, only when used):

    from clipmill.torch import WindowDataset
"""
from .reader import Dataset, ReaderError, library_path
from .tokens import TokenWriter, Tokens

__all__ = ["Dataset", "ReaderError", "TokenWriter", "Tokens", "library_path"]
