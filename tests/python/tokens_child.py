"""Writes a token set the way a tokenizer run would (tests/e2e/tokens.sh):
the clips a killed run left out, in an order drawn from a seed, then
finishes. argv: DATASET OUT ORDER_SEED SLEEP_S [CODEBOOK]."""
import sys
import time

import numpy as np

import clipmill
from check_tokens import SPLITS, tokens_of

ds, out, seed, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
codebook = int(sys.argv[5]) if len(sys.argv) > 5 else 1024
tw = clipmill.TokenWriter(ds, out, tokenizer="test-tokens", version="7", patch_size=4, codebook=codebook)
todo = [(s, i) for s in SPLITS for i in tw.missing(s)]
np.random.default_rng(seed).shuffle(todo)
for s, i in todo:
    tw.write(s, i, tokens_of(s, i, codebook))
    time.sleep(pause)
tw.close()
print("finished")
