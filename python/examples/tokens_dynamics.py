"""Worked example (docs/tokens.md): tokenize a dataset once, then train a toy
dynamics model on token windows (torch, CPU).

    python3 python/examples/tokens_dynamics.py DATASET [TRAIN_STEPS]

1. A tiny example tokenizer: frames padded to a multiple of the patch (90 ->
   92 rows), each 4x4 patch's mean colour quantized to 4 levels per channel:
   a codebook of 64 codes, 23x40 tokens per frame. (A real one is a trained
   VQ-VAE; the writing side is the same.)
2. clipmill.TokenWriter writes every clip's tokens to DATASET/tokens/NAME,
   resumably: rerun after a kill and it writes only clip_indices still
   missing; the finished set is immutable and checksummed.
3. A toy dynamics model reads (B, 16, 23, 40) token windows through
   TokenWindowDataset + StatefulLoader (the frame loaders' order, mixing and
   resume state) and learns to predict step t+1's tokens from step t's
   (plus the clip's actions when the dataset has them), a few optimiser
   steps on CPU; the loss printed per step should fall.
"""
import sys

import numpy as np
import torch

import clipmill
from clipmill.torch import StatefulLoader, TokenWindowDataset

PATCH, LEVELS = 4, 4
CODEBOOK = LEVELS ** 3
NAME = "patchmean4"


def tokenize(frames):
    """(T, Hp, W, 3) uint8 frames, Hp and W multiples of PATCH -> (T, Hp/4, W/4) codes < 64."""
    t, h, w, _ = frames.shape
    mean = frames.reshape(t, h // PATCH, PATCH, w // PATCH, PATCH, 3).mean(axis=(2, 4))
    q = np.minimum((mean * LEVELS / 256).astype(np.int64), LEVELS - 1)
    return (q[..., 0] * LEVELS + q[..., 1]) * LEVELS + q[..., 2]


def write_tokens(dataset):
    with clipmill.TokenWriter(dataset, NAME, tokenizer="patchmean", version="1", patch_size=PATCH,
                              codebook=CODEBOOK) as tw:
        for split in ("train", "val", "test"):
            todo = tw.missing(split)
            if not todo:
                continue
            with clipmill.Dataset(dataset, split) as ds:
                for i in todo:
                    tw.write(split, i, tokenize(ds.window(i, 0, ds.frames, pad_to=PATCH)))
            print(f"{split}: wrote {len(todo)} clips")
    return NAME


class Dynamics(torch.nn.Module):
    """Next-step token logits from the current step's tokens and actions:
    embedding, two 3x3 convolutions, a 1x1 head. Genie's dynamics model is a
    MaskGIT transformer over many steps; this one only shows the plumbing."""

    def __init__(self, n_actions, dim=32):
        super().__init__()
        self.embed = torch.nn.Embedding(CODEBOOK, dim)
        self.act = torch.nn.Linear(max(n_actions, 1), dim)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(dim, dim, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(dim, dim, 3, padding=1), torch.nn.ReLU())
        self.head = torch.nn.Conv2d(dim, CODEBOOK, 1)

    def forward(self, tokens, actions):
        x = self.embed(tokens.long()).permute(0, 3, 1, 2)            # (N, dim, h, w)
        x = x + self.act(actions)[:, :, None, None]
        return self.head(self.body(x))                               # (N, CODEBOOK, h, w)


def train(dataset, name, steps, channels):
    torch.manual_seed(0)
    ds = TokenWindowDataset(dataset, name, "train", steps=16, batch_size=4, seed=0, windows_per_clip=8,
                            actions=channels, return_info=True)
    model = Dynamics(len(channels))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader, losses = StatefulLoader(ds, num_workers=0), []
    epoch = 0
    while len(losses) < steps:
        ds.set_epoch(epoch)
        for batch in loader:
            tok = batch["tokens"]                                    # (B, 16, 23, 40) int32
            act = batch["actions"] * batch["action_mask"]            # (B, 16, A)
            cur, nxt = tok[:, :-1].flatten(0, 1), tok[:, 1:].flatten(0, 1)
            a = act[:, :-1].flatten(0, 1) if channels else torch.zeros(len(cur), 1)
            loss = torch.nn.functional.cross_entropy(model(cur, a), nxt.long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            print(f"step {len(losses)} tokens {tuple(tok.shape)} {tok.dtype} loss {loss.item():.4f}")
            if len(losses) == steps:
                break
        epoch += 1
    return losses, loader.state_dict()


def main():
    dataset = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    name = write_tokens(dataset)
    with clipmill.Dataset(dataset, "train") as ds:
        channels = sorted({c[0] for i in range(len(ds)) for c in ds.action_channels(i)})
    print(f"action channels: {channels}")
    losses, state = train(dataset, name, steps, channels)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} steps; loader state {state['consumed']} "
          f"positions into epoch {state['epoch']}")


if __name__ == "__main__":
    main()
