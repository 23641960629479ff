/* Text assets compiled into the binaries by cmake/embed.cmake. */
#ifndef CLIPMILL_EMBEDDED_ASSETS_H
#define CLIPMILL_EMBEDDED_ASSETS_H

struct embedded_asset {
    const char *name;  /* file name, e.g. "001_init.sql"; NULL ends the table */
    const char *text;  /* NUL-terminated contents */
};

/* The schema .sql files in name order; migration N is the N-th file. */
extern const struct embedded_asset schema_files[];
/* lib/keywords_default.txt: the platformer keyword rules used without --keywords. */
extern const char *const keywords_default_txt;

#endif
