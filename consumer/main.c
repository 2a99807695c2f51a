/* main.c - command line, configuration, wiring of the modules. Only main
 * decides to stop. (Skeleton: the run loop is wired in pipeline.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "config.h"

#define CDCSINK_VERSION "0.1.0"

extern char **environ;

int main(int argc, char **argv) {
    cdc_conf_t *conf = cdc_conf_new();
    char errstr[1024];
    int rc = 0;
    (void)argc;
    (void)argv;
    if (!conf)
        return 1;
    if (cdc_conf_load_env(conf, environ, errstr, sizeof errstr)) {
        fprintf(stderr, "cdcsink: %s\n", errstr);
        rc = 2;
    }
    printf("cdcsink %s\n", CDCSINK_VERSION);
    cdc_conf_free(conf);
    return rc;
}
