#!/usr/bin/env bash
# Prints the include graph of lib/, reader/ and tools/ between layers and
# checks it (docs/architecture.md):
#
#   base < format < source < clip < corpus < model < curate < pipeline < tools
#   reader/ (the public reader .so) may include only format and base
#   model may not include corpus (the model knows no catalog or store)
#
# A file may include headers of its own layer and of the layers below it.
# Exits 1 naming each upward arrow (a file including a header of a higher
# layer, or a reader/ file including anything but format and base), each
# forbidden arrow (model to corpus), each
# include from one tools/TOOL/ folder into another, and each include cycle
# between files; 2 on a usage error or an include that names no
# header of the tree (or several: the graph would then be a guess). The build
# enforces the same direction by linking each layer's library only to the
# layers below; this check also catches a header that merely *includes* one
# from above, which compiles whenever the includer's users happen to see it.
#
#   scripts/include-graph.sh [--files] [--root DIR]
#     --files   also print every file-to-file include
#     --root    the source tree to read (default: this script's repository)
#
# Quoted includes are resolved as the compiler does here: beside the including
# file, then as a path under lib/, reader/ or tools/, then by file name
# (each layer folder is on the include path, so "catalog.h" means
# lib/corpus/catalog.h). Angle-bracket includes are system headers: ignored.
exec /usr/bin/python3 - "$(cd "$(dirname "$0")/.." && pwd)" "$@" <<'PYTHON'
import os
import re
import sys

LAYERS = ["base", "format", "source", "clip", "corpus", "model", "curate",
          "pipeline", "reader", "tools"]
RANK = {name: i for i, name in enumerate(LAYERS)}
# reader/ is built into libclipmill_reader.so on its own, so it sees only these.
READER_MAY_INCLUDE = {"base", "format", "reader"}
# Lower layers a layer may not include although they are below it: the model
# works on in-memory examples and knows no catalog or staging store (the
# curate layer feeds it from the corpus).
MAY_NOT_INCLUDE = {"model": {"corpus"}}

# Known arrows that another change is removing right now. Each still prints a
# warning; whoever removes the include removes its entry here (then this check
# fails if the include comes back). Add nothing to this list.
KNOWN_ARROWS = {
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def usage(msg):
    sys.stderr.write("include-graph: %s\n"
                     "usage: scripts/include-graph.sh [--files] [--root DIR]\n" % msg)
    sys.exit(2)


def layer_of(path):
    """The layer of a repository-relative path, or None outside lib/ reader/ tools/."""
    parts = path.split("/")
    if parts[0] == "lib" and len(parts) >= 3 and parts[1] in RANK:
        return parts[1]
    if parts[0] in ("reader", "tools"):
        return parts[0]
    return None


def main(argv):
    root = argv[0]
    show_files = False
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--files":
            show_files = True
        elif a == "--root":
            if not args:
                usage("--root needs a directory")
            root = args.pop(0)
        elif a in ("-h", "--help"):
            print("usage: scripts/include-graph.sh [--files] [--root DIR]\n"
                  "prints the include graph between layers; exits 1 on an upward\n"
                  "arrow or an include cycle (see the comment at the top of the script)")
            return 0
        else:
            usage("unknown option '%s'" % a)
    root = os.path.abspath(root)
    if not os.path.isdir(os.path.join(root, "lib")):
        usage("%s: no lib/ folder (not a clipmill tree)" % root)

    # Every source and header of the three trees, repository-relative.
    files = []
    for top in ("lib", "reader", "tools"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(d, n), root))
    files.sort()
    fileset = set(files)
    by_name = {}
    for f in files:
        if f.endswith(".h"):
            by_name.setdefault(os.path.basename(f), []).append(f)

    errors = []
    problems = 0
    known = 0   # allow-listed arrows met (warnings)
    edges = {}  # file -> sorted list of included files
    for f in files:
        if layer_of(f) is None:
            errors.append("%s: not in a layer folder (lib/LAYER/, reader/, tools/TOOL/)" % f)
            continue
        targets = []
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                name = m.group(1)
                candidates = [os.path.normpath(os.path.join(os.path.dirname(f), name))]
                candidates += [os.path.normpath(os.path.join(t, name))
                               for t in ("lib", "reader", "tools")]
                hit = next((c for c in candidates if c in fileset), None)
                if hit is None:
                    named = by_name.get(os.path.basename(name), [])
                    named = [h for h in named if h.endswith("/" + name)]
                    if len(named) == 1:
                        hit = named[0]
                    elif not named:
                        errors.append("%s:%d: #include \"%s\" names no header under lib/, reader/ or tools/"
                                      % (f, lineno, name))
                        continue
                    else:
                        errors.append("%s:%d: #include \"%s\" is ambiguous: %s"
                                      % (f, lineno, name, ", ".join(named)))
                        continue
                targets.append((hit, lineno))
        edges[f] = targets

    # Layer graph: how many includes go from each layer to each layer.
    layer_edges = {}
    for f, targets in edges.items():
        for t, _ in targets:
            key = (layer_of(f), layer_of(t))
            layer_edges[key] = layer_edges.get(key, 0) + 1
    print("include graph of lib/, reader/, tools/ (layer -> layer: includes):")
    for (a, b) in sorted(layer_edges, key=lambda k: (RANK[k[0]], -RANK[k[1]])):
        print("  %-8s -> %-8s %4d%s" % (a, b, layer_edges[(a, b)], "  (within)" if a == b else ""))
    if show_files:
        print("files:")
        for f in sorted(edges):
            for t, lineno in edges[f]:
                print("  %s:%d -> %s" % (f, lineno, t))

    # Upward arrows (and reader/ reaching past format).
    for f in sorted(edges):
        lf = layer_of(f)
        for t, lineno in edges[f]:
            lt = layer_of(t)
            if lf == "reader":
                bad = lt not in READER_MAY_INCLUDE
            else:
                bad = RANK[lt] > RANK[lf]
            if bad:
                what = "%s:%d: upward arrow: %s (%s) includes %s (%s)" % (f, lineno, f, lf, t, lt)
            elif lt in MAY_NOT_INCLUDE.get(lf, ()):
                what = "%s:%d: forbidden arrow: %s (%s) includes %s (%s may not use %s)" % (
                    f, lineno, f, lf, t, lf, lt)
            elif lf == "tools" and lt == "tools" and f.split("/")[1] != t.split("/")[1]:
                # One executable per tools/ folder: another tool's code is not linked in.
                what = "%s:%d: arrow between tools: %s includes %s" % (f, lineno, f, t)
            else:
                continue
            if (f, t) in KNOWN_ARROWS:
                print("warning: %s [known: %s]" % (what, KNOWN_ARROWS[(f, t)]))
                known += 1
            else:
                print("error: " + what)
                problems += 1

    # An allow-list entry whose include is gone must go too, so it cannot
    # quietly allow the arrow again later.
    present = {(f, t) for f in edges for t, _ in edges[f]}
    for f, t in sorted(KNOWN_ARROWS):
        if f in edges and (f, t) not in present:
            print("error: %s no longer includes %s: remove it from KNOWN_ARROWS in scripts/include-graph.sh"
                  % (f, t))
            problems += 1

    # Cycles between files: strongly connected components of the file graph
    # (iterative Tarjan), and files that include themselves.
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter[0]
                counter[0] += 1
                stack.append(v)
                on_stack.add(v)
            succ = [t for t, _ in edges.get(v, [])]
            if i < len(succ):
                work.append((v, i + 1))
                w = succ[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or any(t == v for t, _ in edges.get(v, [])):
                    sccs.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    for comp in sorted(sccs):
        print("error: include cycle between files: %s" % " <-> ".join(comp))
        problems += 1

    for e in errors:
        print("error: " + e)
    if errors:
        return 2
    if problems:
        print("include-graph: %d upward arrow(s) or cycle(s)" % problems)
        return 1
    print("include-graph: no upward arrow, no cycle (%d files, %d includes%s)"
          % (len(edges), sum(len(t) for t in edges.values()),
             ", %d known arrow(s) warned above" % known if known else ""))
    return 0


sys.exit(main(sys.argv[1:]))
PYTHON
