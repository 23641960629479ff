"""A few optimisation steps of a tiny VQ-VAE-style video tokenizer on CPU, fed
by clipmill.torch.WindowDataset: the whole path from shards to a trainer.
    /usr/bin/python3 python/examples/train_tokenizer_step.py corpus/datasets/NAME [STEPS]"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from clipmill.torch import WindowDataset  # noqa: E402

PATCH = 4  # Genie's tokenizer patch: 90 rows are padded to 92


class TinyVQ(nn.Module):
    def __init__(self, codes=64, dim=16):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 32, PATCH, PATCH), nn.ReLU(), nn.Conv2d(32, dim, 1))
        self.codebook = nn.Embedding(codes, dim)
        self.dec = nn.Sequential(nn.ConvTranspose2d(dim, 32, 1), nn.ReLU(), nn.ConvTranspose2d(32, 3, PATCH, PATCH))

    def forward(self, x):                      # x: (N, 3, H, W) float in [0, 1]
        z = self.enc(x)                        # (N, D, H/4, W/4): one token per 4x4 patch
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        idx = torch.cdist(flat, self.codebook.weight).argmin(1)
        q = self.codebook(idx).view(z.shape[0], z.shape[2], z.shape[3], -1).permute(0, 3, 1, 2)
        vq_loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        q = z + (q - z).detach()               # straight-through estimator
        return self.dec(q), vq_loss, idx


def main():
    path, steps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(0)
    ds = WindowDataset(path, "train", frames=16, batch_size=2, seed=0, layout="BTCHW", pad_to=PATCH,
                       windows_per_clip=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    model = TinyVQ()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step, epoch = 0, 0
    while step < steps:
        ds.set_epoch(epoch)
        for batch in loader:                   # uint8 (B, T, C, 92, 160)
            x = batch.flatten(0, 1).float() / 255.0
            recon, vq_loss, idx = model(x)
            loss = F.mse_loss(recon, x) + vq_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            print(f"step {step}: batch {tuple(batch.shape)} loss {loss.item():.4f} "
                  f"codes used {idx.unique().numel()}")
            step += 1
            if step == steps:
                break
        epoch += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
