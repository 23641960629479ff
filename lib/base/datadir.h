/* Files installed beside the tools (share/clipmill: the default model),
 * found relative to the running program, so that an installed tree works
 * wherever it is unpacked (a prefix on a cluster, /usr from the .deb) and
 * the build tree works too (build/bin beside build/share/clipmill). */
#ifndef CLIPMILL_DATADIR_H
#define CLIPMILL_DATADIR_H

/* The path of rel ("models/default.cmm") under the data directory of the
 * running program: DIR/CLIPMILL_DATA_FROM_BIN/rel, DIR the directory of
 * /proc/self/exe with links resolved and CLIPMILL_DATA_FROM_BIN
 * "../share/clipmill" unless the install directories say otherwise.
 * Returned with links and ".." resolved; malloc'd, or NULL when no such
 * file exists. */
char *cm_data_file(const char *rel);

#endif
