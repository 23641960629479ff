/* clipmill-train label: the labelling web server (docs/labelling.md). */
#ifndef CLIPMILL_LABEL_SERVER_H
#define CLIPMILL_LABEL_SERVER_H

#include <stdio.h>

/* argv starts at "label". Serves until SIGINT / SIGTERM; returns the exit
 * status (0 ok, 2 usage error, 3 fatal: catalog, model or port unusable). */
int label_server_main(int argc, char **argv);

#endif
