/* config.c - the settings table and its loaders; see config.h. */
#include "consumer/cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h" /* the enum values the table maps choices to */
#include "common/log.h"

typedef enum { T_STR, T_INT, T_ENUM } ktype_t;

typedef struct {
    const char *name;
    int value;
} cdc_choice_t;

typedef struct {
    ktype_t type;
    const char *name;
    const char *def;              /* default, as text; "" = empty */
    int64_t min, max;             /* T_INT range */
    const cdc_choice_t *choices;  /* T_ENUM: ends with {NULL, 0} */
    bool required;
    const char *help;
} setting_t;

#define CDC_CHOICES(...) ((const cdc_choice_t[]){__VA_ARGS__, {NULL, 0}})

/* THE settings table, from settings.def, indexed by id. */
static const setting_t settings[] = {
#define CDC_SETTING(ty, id, ...) [CDC_SET_##id] = {.type = T_##ty, __VA_ARGS__},
#include "consumer/cli/settings.def"
#undef CDC_SETTING
};

#define NSETTINGS ((size_t)CDC_SET__COUNT)
_Static_assert(sizeof(settings) / sizeof(settings[0]) == CDC_SET__COUNT,
               "one table row per id");

typedef struct pass_s {
    char *key;
    char *value;
    struct pass_s *next;
} pass_t;

struct cdc_conf_s {
    char *values[NSETTINGS]; /* owned; NULL = default */
    pass_t *pass;            /* owned list of pass-through keys, in order */
    pass_t **pass_tail;
};

const char *cdc_conf_key(cdc_set_t id) {
    return (size_t)id < NSETTINGS ? settings[id].name : NULL;
}

static int find(const char *key) {
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, key) == 0)
            return (int)i;
    return -1;
}

cdc_conf_t *cdc_conf_new(void) {
    cdc_conf_t *c = calloc(1, sizeof(*c));
    if (c)
        c->pass_tail = &c->pass;
    return c;
}

void cdc_conf_free(cdc_conf_t *c) {
    if (!c)
        return;
    for (size_t i = 0; i < NSETTINGS; i++)
        free(c->values[i]);
    for (pass_t *p = c->pass, *n; p; p = n) {
        n = p->next;
        free(p->key);
        free(p->value);
        free(p);
    }
    free(c);
}

bool cdc_conf_parse_int(const char *s, int64_t *out) {
    char *end;
    long long v;
    if (!*s)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* The choice named v, or NULL. */
static const cdc_choice_t *choice_of(const setting_t *s, const char *v) {
    for (const cdc_choice_t *c = s->choices; c && c->name; c++)
        if (strcmp(c->name, v) == 0)
            return c;
    return NULL;
}

/* "a|b|c" */
static const char *choice_list(const setting_t *s, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = '\0';
    for (const cdc_choice_t *c = s->choices; c && c->name && k < size; c++) {
        int n = snprintf(buf + k, size - k, "%s%s", k ? "|" : "", c->name);
        if (n < 0)
            break;
        k += (size_t)n;
    }
    return buf;
}

/* The table key with the longest common prefix, for "did you mean". */
static const char *nearest(const char *key) {
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        size_t n = 0;
        while (key[n] && key[n] == settings[i].name[n])
            n++;
        if (n > best_n) {
            best_n = n;
            best = settings[i].name;
        }
    }
    return best_n >= 3 ? best : NULL;
}

cdc_err_t cdc_conf_set(cdc_conf_t *c, const char *key, const char *value,
                       const char *origin, char *errstr, size_t errstr_size) {
    int i = find(key);
    const setting_t *s;
    char *dup;

    if (!origin)
        origin = "configuration";
    if (i < 0) {
        if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
            if (!strcmp(key, "kafka.enable.auto.commit") ||
                !strcmp(key, "kafka.enable.auto.offset.store")) {
                cdc_errstr_set(errstr, errstr_size,
                               "%s: setting \"%s\" cannot be changed: "
                               "cdcsink commits each offset itself, only "
                               "after PostgreSQL committed its effect (a "
                               "commit before that could lose changes). "
                               "HINT: remove the setting",
                               origin, key);
                return CDC_ERR_CONFIG;
            }
            pass_t *p = calloc(1, sizeof(*p));
            if (!p || !(p->key = strdup(key)) || !(p->value = strdup(value))) {
                if (p)
                    free(p->key);
                free(p);
                return CDC_ERR_NOMEM;
            }
            *c->pass_tail = p;
            c->pass_tail = &p->next;
            return CDC_OK;
        }
        const char *near = nearest(key);
        cdc_errstr_set(errstr, errstr_size,
                       "%s: unknown setting \"%s\". HINT: %s%s%s"
                       "see `cdcsink --help` for every setting",
                       origin, key, near ? "did you mean \"" : "",
                       near ? near : "", near ? "\"? " : "");
        return CDC_ERR_CONFIG;
    }
    s = &settings[i];
    switch (s->type) {
    case T_INT: {
        int64_t v;
        if (!cdc_conf_parse_int(value, &v)) {
            cdc_errstr_set(errstr, errstr_size,
                           "%s: setting \"%s\" must be an integer, got \"%s\". "
                           "HINT: e.g. %s=%s",
                           origin, key, value, key, s->def);
            return CDC_ERR_CONFIG;
        }
        if (v < s->min || v > s->max) {
            cdc_errstr_set(errstr, errstr_size,
                           "%s: setting \"%s\" = %lld is out of range. "
                           "HINT: use a value from %lld to %lld",
                           origin, key, (long long)v, (long long)s->min,
                           (long long)s->max);
            return CDC_ERR_CONFIG;
        }
        break;
    }
    case T_ENUM:
        if (!choice_of(s, value)) {
            char list[256];
            cdc_errstr_set(errstr, errstr_size,
                           "%s: setting \"%s\" = \"%s\" is not a valid choice. "
                           "HINT: use one of %s",
                           origin, key, value,
                           choice_list(s, list, sizeof list));
            return CDC_ERR_CONFIG;
        }
        break;
    case T_STR:
        break;
    }
    if (!(dup = strdup(value)))
        return CDC_ERR_NOMEM;
    free(c->values[i]);
    c->values[i] = dup;
    return CDC_OK;
}

static char *trim(char *s) {
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

cdc_err_t cdc_conf_load_file(cdc_conf_t *c, const char *path, char *errstr,
                             size_t errstr_size) {
    FILE *f = fopen(path, "r");
    char line[8192], origin[512];
    int lineno = 0;
    cdc_err_t err = CDC_OK;

    if (!f) {
        cdc_errstr_set(errstr, errstr_size,
                       "cannot read config file \"%s\": %s. HINT: check the "
                       "path given to --config",
                       path, strerror(errno));
        return CDC_ERR_IO;
    }
    while (fgets(line, sizeof(line), f)) {
        char *p, *sep, *key, *val;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            cdc_errstr_set(errstr, errstr_size, "%s:%d: line too long", path,
                           lineno);
            err = CDC_ERR_CONFIG;
            break;
        }
        p = trim(line);
        if (!*p || *p == '#' || *p == '!')
            continue;
        sep = strpbrk(p, "=:");
        if (!sep) {
            cdc_errstr_set(errstr, errstr_size,
                           "%s:%d: expected key=value, got \"%s\"", path,
                           lineno, p);
            err = CDC_ERR_CONFIG;
            break;
        }
        *sep = '\0';
        key = trim(p);
        val = trim(sep + 1);
        if (cdc_errstr_set(origin, sizeof(origin), "%s:%d", path, lineno) < 0)
            memcpy(origin + sizeof(origin) - 4, "...", 4);
        if ((err = cdc_conf_set(c, key, val, origin, errstr, errstr_size)))
            break;
    }
    fclose(f);
    return err;
}

cdc_err_t cdc_conf_load_env(cdc_conf_t *c, char *const *envp, char *errstr,
                            size_t errstr_size) {
    static const char pfx[] = "CDCSINK_";
    for (; envp && *envp; envp++) {
        const char *e = *envp, *eq = strchr(e, '=');
        char key[256], var[sizeof pfx - 1 + sizeof key]; /* CDCSINK_ + key */
        size_t n;
        cdc_err_t err;
        int i;

        if (!eq || strncmp(e, pfx, sizeof(pfx) - 1) != 0)
            continue;
        n = (size_t)(eq - e) - (sizeof(pfx) - 1);
        if (n == 0 || n >= sizeof(key))
            continue;
        for (size_t k = 0; k < n; k++) {
            char ch = e[sizeof(pfx) - 1 + k];
            key[k] = ch == '_' ? '.' : (char)tolower((unsigned char)ch);
        }
        key[n] = '\0';
        memcpy(var, e, (size_t)(eq - e));
        var[eq - e] = '\0';
        /* Underscores cannot tell "." from "_" inside a key name: look the
         * table up by comparing the env form of each name. */
        i = -1;
        for (size_t k = 0; k < NSETTINGS; k++) {
            const char *s = settings[k].name;
            size_t m = 0;
            for (; s[m] && m < n; m++) {
                char want = s[m] == '.' ? '_' : (char)toupper((unsigned char)s[m]);
                if (want != e[sizeof(pfx) - 1 + m])
                    break;
            }
            if (m == n && !s[m]) {
                i = (int)k;
                break;
            }
        }
        if (i >= 0)
            err = cdc_conf_set(c, settings[i].name, eq + 1, var, errstr,
                               errstr_size);
        else if (strncmp(key, "kafka.", 6) == 0)
            err = cdc_conf_set(c, key, eq + 1, var, errstr, errstr_size);
        else {
            cdc_errstr_set(errstr, errstr_size,
                           "%s: unknown setting. HINT: CDCSINK_* variables "
                           "name a setting upper-cased with dots as "
                           "underscores; see `cdcsink --help`",
                           var);
            err = CDC_ERR_CONFIG;
        }
        if (err)
            return err;
    }
    return CDC_OK;
}

static void env_name(const char *key, char *out, size_t size) {
    size_t k = 0;
    k += (size_t)snprintf(out, size, "CDCSINK_");
    for (; *key && k + 1 < size; key++)
        out[k++] = *key == '.' ? '_' : (char)toupper((unsigned char)*key);
    out[k] = '\0';
}

cdc_err_t cdc_conf_validate(const cdc_conf_t *c, char *errstr,
                            size_t errstr_size) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].required && !*cdc_conf_text(c, (cdc_set_t)i)) {
            char env[128];
            env_name(settings[i].name, env, sizeof(env));
            cdc_errstr_set(errstr, errstr_size,
                           "setting \"%s\" is required. HINT: set it in the "
                           "config file, as %s, or with --set %s=...",
                           settings[i].name, env, settings[i].name);
            return CDC_ERR_CONFIG;
        }
    }
    const char *topics = cdc_conf_str(c, CDC_SET_TOPICS);
    if (topics[0] == '^' && strchr(topics, ',')) {
        cdc_errstr_set(errstr, errstr_size,
                       "setting \"topics\": a ^regex cannot be combined with "
                       "a list. HINT: use one regex, e.g. ^(a|b)\\..*");
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

const char *cdc_conf_text(const cdc_conf_t *c, cdc_set_t id) {
    if ((size_t)id >= NSETTINGS)
        return "";
    return c->values[id] ? c->values[id] : settings[id].def;
}

/* Values were validated when set, and defaults by a unit test. */
int64_t cdc_conf_int_(const cdc_conf_t *c, cdc_set_t id) {
    int64_t v = 0;
    if (!cdc_conf_parse_int(cdc_conf_text(c, id), &v))
        return 0;
    return v;
}

int cdc_conf_enum_(const cdc_conf_t *c, cdc_set_t id) {
    const cdc_choice_t *ch;
    if ((size_t)id >= NSETTINGS)
        return 0;
    ch = choice_of(&settings[id], cdc_conf_text(c, id));
    return ch ? ch->value : 0;
}

void cdc_conf_each_passthrough(const cdc_conf_t *c, const char *prefix,
                               void (*cb)(const char *, const char *, void *),
                               void *opaque) {
    size_t n = strlen(prefix);
    for (pass_t *p = c->pass; p; p = p->next)
        if (strncmp(p->key, prefix, n) == 0)
            cb(p->key + n, p->value, opaque);
}

static const char *type_hint(const setting_t *s, char *buf, size_t size) {
    switch (s->type) {
    case T_INT: return "integer";
    case T_ENUM: return choice_list(s, buf, size);
    case T_STR: break;
    }
    return "string";
}

void cdc_conf_print_help(FILE *out) {
    char env[128], th[128];
    fprintf(out, "settings (file key=value, env CDCSINK_*, or --set key=value):\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        env_name(s->name, env, sizeof(env));
        fprintf(out, "  %-26s %s%s\n      %s\n      default: %s   env: %s\n",
                s->name, type_hint(s, th, sizeof(th)),
                s->required ? ", required" : "", s->help,
                *s->def ? s->def : "(empty)", env);
    }
    fprintf(out, "  kafka.*                    any other librdkafka consumer "
                 "property, passed through\n");
}

void cdc_conf_print_markdown(FILE *out) {
    char env[128], th[128];
    fprintf(out, "| key | type | default | environment | meaning |\n"
                 "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        env_name(s->name, env, sizeof(env));
        fprintf(out, "| `%s` | %s%s | %s%s%s | `%s` | ", s->name,
                type_hint(s, th, sizeof(th)), s->required ? ", required" : "",
                *s->def ? "`" : "", *s->def ? s->def : "(empty)",
                *s->def ? "`" : "", env);
        for (const char *h = s->help; *h; h++) /* keep the table's pipes */
            fputs(*h == '|' ? "\\|" : (char[]){*h, 0}, out);
        fputs(" |\n", out);
    }
    fprintf(out, "| `kafka.*` | | | `CDCSINK_KAFKA_*` | any other librdkafka "
                 "consumer property, passed through |\n");
}

void cdc_conf_print_sample(FILE *out) {
    fprintf(out, "# cdcsink configuration (generated by `cdcsink config-sample`)\n"
                 "# every key can also be set as CDCSINK_<KEY> or --set key=value\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        fprintf(out, "\n# %s\n%s%s=%s\n", s->help, s->required ? "" : "#",
                s->name, s->def);
    }
}
