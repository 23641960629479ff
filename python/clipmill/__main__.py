"""python3 -m clipmill: the Python package's command line.

    python3 -m clipmill info DATASET[@SUBSET] [--card]
        what a dataset holds: format, frames, codec, clips and hours per split
        (read through the reader, so it also shows the library loads), clips
        by domain from its metadata, and which libclipmill_reader it used.
    python3 -m clipmill library
        the path of the libclipmill_reader.so the package loads.

Exit status: 0 ok; 1 the dataset cannot be read; 2 usage error.
"""
import argparse
import collections
import json
import os
import sys

from .reader import Dataset, ReaderError, _load, library_path

SPLITS = ("train", "val", "test")


def _manifest(dataset):
    """(DATASET's manifest.json as a dict, its directory); ({}, DATASET) when
    there is none. For DATASET@SUBSET, the dataset's own."""
    for d in (dataset, dataset.rpartition("@")[0]):
        if d and os.path.isfile(os.path.join(d, "manifest.json")):
            with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
                return json.load(f), d
    return {}, dataset


def info(dataset, card=False, out=sys.stdout):
    """Prints DATASET's summary; returns the exit status."""
    manifest, root = _manifest(dataset)
    if not manifest:
        print(f"clipmill: {dataset}: not a dataset (no manifest.json)", file=sys.stderr)
        return 1
    lib = _load()
    print(f"dataset   {dataset}", file=out)
    print(f"name      {manifest.get('name', '?')} (format version {manifest.get('format_version', 1)}, "
          f"written {manifest.get('created_at', '?')} by clipmill {manifest.get('clipmill_version', '?')})", file=out)
    print(f"reader    {library_path()} (clipmill-reader {lib.cmr_version().decode()})", file=out)
    opened, failed, domains = 0, [], collections.Counter()
    for split in SPLITS:
        try:
            ds = Dataset(dataset, split)
        except ReaderError as e:
            failed.append(f"{split}: {e}")
            continue
        with ds:
            if opened == 0:
                print(f"clips     {ds.frames} frames of {ds.width}x{ds.height}x{ds.channels} at {ds.fps:g} fps, "
                      f"{ds.codec}", file=out)
                print(f"{'split':<9} {'clips':>7} {'hours':>9}", file=out)
            opened += 1
            hours = len(ds) * ds.frames / ds.fps / 3600
            print(f"{split:<9} {len(ds):>7} {hours:>9.3f}", file=out)
            if len(ds):
                try:
                    domains.update(str(d) for d in ds.metadata()["domain"])
                except (ReaderError, KeyError):
                    pass                      # format version 1: no per-clip metadata
    if domains:
        print("domains   " + ", ".join(f"{d} {n}" for d, n in domains.most_common()), file=out)
    for line in failed:
        print(f"clipmill: {dataset}: {line}", file=sys.stderr)
    if card and os.path.isfile(os.path.join(root, "card.md")):
        with open(os.path.join(root, "card.md"), encoding="utf-8") as f:
            print("\n" + f.read().rstrip(), file=out)
    return 0 if not failed else 1


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m clipmill", description="Read clipmill training datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("info", help="summary of a dataset: format, clips and hours per split, domains")
    pi.add_argument("dataset", help="dataset directory, or DATASET@SUBSET")
    pi.add_argument("--card", action="store_true", help="also print the dataset card (card.md)")
    sub.add_parser("library", help="the libclipmill_reader.so this package loads")
    args = p.parse_args(argv)
    try:
        if args.command == "library":
            print(library_path())
            return 0
        return info(args.dataset, args.card)
    except (OSError, ReaderError, ValueError) as e:
        print(f"clipmill: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
