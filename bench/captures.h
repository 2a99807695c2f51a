/* bench/captures.h - the benchmarks' reader of captured records
 * (shared/reference/captures, tests/unit/captures: kcat -J lines), included
 * by each bench's single main.c. */
#ifndef CDC_BENCH_CAPTURES_H
#define CDC_BENCH_CAPTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* The change records of a capture file with a non-null value under 10 KB
 * (so the TOAST giant is left out) and, when ops is not NULL, an op among
 * ops. keys[i] / values[i] are malloc'ed copies. Returns how many, at most
 * max, or -1 when the file cannot be read. */
static int bench_load_captures(const char *path, const char *ops, char **keys,
                               char **values, int max) {
    static char line[1 << 17];
    char err[128];
    int n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (n < max && fgets(line, sizeof line, f)) {
        yajl_val root = yajl_tree_parse(line, err, sizeof err);
        const char *pk[] = {"key", NULL}, *pv[] = {"payload", NULL};
        yajl_val k = yajl_tree_get(root, pk, yajl_t_string);
        yajl_val v = yajl_tree_get(root, pv, yajl_t_string);
        const char *op = v ? strstr(v->u.string, "\"op\":\"") : NULL;
        if (k && v && strlen(v->u.string) < 10000 &&
            (!ops || (op && strchr(ops, op[6])))) {
            keys[n] = strdup(k->u.string);
            values[n] = strdup(v->u.string);
            n++;
        }
        yajl_tree_free(root);
    }
    fclose(f);
    return n;
}

#endif
