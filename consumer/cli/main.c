/* main.c - the command line: global options, the configuration, and a
 * table of commands to dispatch to.
 *
 * Only the commands decide to stop: modules return errors, a command maps
 * their class to an exit code (cli.h). Exit codes: 0 ok, 1 runtime failure,
 * 2 bad configuration or usage. */
#include <signal.h>
#include <stdio.h>
#ifdef __GLIBC__ /* (stdio.h defines it) */
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "consumer/cli/cli.h"
#include "consumer/cli/cmd_resync.h"
#include "consumer/cli/cmd_verify.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    if (stop_requested) /* second signal: leave at once */
        _exit(1);
    stop_requested = 1;
}

static int cmd_version(cdc_cli_t *cli) {
    (void)cli;
    printf("cdcsink %s\n", CDC_CLI_VERSION);
    return 0;
}

static int cmd_config_doc(cdc_cli_t *cli) {
    (void)cli;
    cdc_conf_print_markdown(stdout);
    return 0;
}

static int cmd_config_sample(cdc_cli_t *cli) {
    (void)cli;
    cdc_conf_print_sample(stdout);
    return 0;
}

static int cmd_verify(cdc_cli_t *cli) {
    return cdc_cli_verify(cli->argc, cli->argv, cli->conf);
}

static int cmd_resync(cdc_cli_t *cli) {
    return cdc_cli_resync(cli->argc, cli->argv, cli->conf, cli->stop);
}

typedef struct command_s {
    const char *name;
    int (*fn)(cdc_cli_t *cli);
    bool conf;      /* loads the file, CDCSINK_* and --set, sets up logging */
    bool signals;   /* SIGTERM/SIGINT stop it gracefully */
    bool own_args;  /* takes arguments after its name */
    const char *usage, *summary;
} command_t;

static const command_t commands[] = {
    {.name = "run", .fn = cdc_cmd_run, .conf = true, .signals = true,
     .usage = "run (default)",
     .summary = "consume and apply until SIGTERM/SIGINT"},
    {.name = "check", .fn = cdc_cmd_check, .conf = true, .own_args = true,
     .usage = "check | check --connect-url URL [--connector NAME]",
     .summary = "validate config, reach Kafka, PostgreSQL and Redis, exit; "
                "with --connect-url, check the Debezium connector's settings "
                "instead"},
    {.name = "replay", .fn = cdc_cmd_replay, .conf = true, .signals = true,
     .own_args = true, .usage = CDC_CLI_REPLAY_USAGE,
     .summary = "re-read a topic range into the warehouse, safely"},
    {.name = "decode", .fn = cdc_cmd_decode, .conf = true, .own_args = true,
     .usage = CDC_CLI_DECODE_USAGE,
     .summary = "print what cdcsink makes of records (kcat -J lines or a "
                "topic)"},
    {.name = "verify", .fn = cmd_verify, .conf = true, .own_args = true,
     .usage = "verify --source CONNINFO [--table T]... [--json]",
     .summary = "compare source tables with the replica, report the keys "
                "that differ"},
    {.name = "resync", .fn = cmd_resync, .conf = true, .signals = true,
     .own_args = true, .usage = CDC_CLI_RESYNC_USAGE,
     .summary = "re-snapshot one table through the connector (incremental "
                "snapshot), online, then soft-delete its rows gone at the "
                "source"},
    {.name = "wait", .fn = cdc_cmd_wait, .conf = true, .signals = true,
     .own_args = true,
     .usage = "wait (--source-ts T | --source-lsn L) [--timeout S] "
              "[--source NAME]",
     .summary = "wait until the warehouse holds every source commit before "
                "T or L"},
    {.name = "config-doc", .fn = cmd_config_doc, .usage = "config-doc",
     .summary = "print the settings table as markdown"},
    {.name = "config-sample", .fn = cmd_config_sample,
     .usage = "config-sample",
     .summary = "print a commented configuration file"},
    {.name = "version", .fn = cmd_version, .usage = "version",
     .summary = "print the version"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command_t *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out) {
    fprintf(out, "usage: cdcsink [--config FILE] [--set key=value]... "
                 "[COMMAND]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n      %s\n", commands[i].usage,
                commands[i].summary);
    fprintf(out, "\n");
    cdc_conf_print_help(out);
}

/* The command line, split: global options anywhere, the command, and the
 * command's own arguments (argv[0] its name). */
typedef struct args_s {
    const char *config_file;
    const command_t *cmd;
    int argc;
    char **argv; /* owned array, borrowed strings */
    bool help;
} args_t;

/* Returns 0, or an exit code after printing why. */
static int parse_args(int argc, char **argv, args_t *a) {
    memset(a, 0, sizeof *a);
    if (!(a->argv = calloc((size_t)argc + 1, sizeof(char *))))
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if ((!strcmp(s, "--config") || !strcmp(s, "--set")) && i + 1 < argc) {
            if (s[2] == 'c')
                a->config_file = argv[i + 1];
            i++;
        } else if (a->argc && a->cmd->own_args) {
            a->argv[a->argc++] = argv[i];
        } else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            a->help = true;
        } else if (s[0] == '-') {
            fprintf(stderr, "cdcsink: unknown option \"%s\". HINT: see "
                    "`cdcsink --help`\n", s);
            return 2;
        } else if (!a->argc) {
            if (!(a->cmd = find_command(s))) {
                fprintf(stderr, "cdcsink: unknown command \"%s\". HINT: see "
                        "`cdcsink --help`\n", s);
                return 2;
            }
            a->argv[a->argc++] = argv[i];
        } else {
            fprintf(stderr, "cdcsink: unexpected argument \"%s\". HINT: see "
                    "`cdcsink --help`\n", s);
            return 2;
        }
    }
    if (!a->argc) {
        static char run[] = "run";
        a->cmd = find_command(run);
        a->argv[a->argc++] = run;
    }
    return 0;
}

/* --set pairs, in order, after the file and the environment */
static int apply_sets(cdc_conf_t *conf, int argc, char **argv) {
    char errstr[1024];
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
        } else if (!strcmp(argv[i], "--set")) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            cdc_err_t err;
            if (!eq) {
                fprintf(stderr, "cdcsink: --set \"%s\": expected key=value\n",
                        kv);
                return 2;
            }
            *eq = '\0';
            err = cdc_conf_set(conf, kv, eq + 1, "--set", errstr,
                               sizeof errstr);
            *eq = '=';
            if (err) {
                fprintf(stderr, "cdcsink: %s\n", errstr);
                return 2;
            }
        }
    }
    return 0;
}

/* defaults < file < CDCSINK_* < --set; then logging as configured */
static int load_conf(cdc_conf_t *conf, const args_t *a, int argc,
                     char **argv) {
    char errstr[1024];
    int rc;
    if ((a->config_file &&
         cdc_conf_load_file(conf, a->config_file, errstr, sizeof errstr)) ||
        cdc_conf_load_env(conf, environ, errstr, sizeof errstr)) {
        fprintf(stderr, "cdcsink: %s\n", errstr);
        return 2;
    }
    if ((rc = apply_sets(conf, argc, argv)))
        return rc;
    if (cdc_log_setup(cdc_conf_text(conf, CDC_SET_LOG_LEVEL),
                      cdc_conf_text(conf, CDC_SET_LOG_FORMAT)) < 0)
        return 2;
    return 0;
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* glibc's malloc keeps freed memory for reuse instead of giving each
 * large block back at once: librdkafka's broker thread receives every
 * fetch response (up to max.partition.fetch.bytes, 3 MB) into a new
 * buffer, which by default comes from a fresh mapping or heap top whose
 * pages the kernel faults in and zeroes inside the socket read, once a
 * fetch (issue 19: the broker thread's CPU on bench/e2e's mixed
 * schemas-on stream, 4.5 GB read, one cdcsink at a time on the kept
 * stack: 1.84-2.14 s in eight runs against 2.03-3.10 s in nine, a small
 * gain in a noisy measure; peak RSS the same, 51-53 MB). Blocks under
 * 8 MB come from the heap; a heap keeps up to 16 MB free at its top. */
static void tune_malloc(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

int main(int argc, char **argv) {
    tune_malloc(); /* before the first allocation */
    cdc_conf_t *conf = cdc_conf_new();
    args_t a;
    int rc;

    if (!conf)
        return 1;
    rc = parse_args(argc, argv, &a);
    if (rc == 0 && a.help)
        usage(stdout);
    else if (rc == 0 && a.cmd->conf)
        rc = load_conf(conf, &a, argc, argv);
    if (rc == 0 && !a.help) {
        cdc_cli_t cli = {.conf = conf, .argc = a.argc, .argv = a.argv,
                         .stop = &stop_requested};
        signal(SIGPIPE, SIG_IGN);
        if (a.cmd->signals)
            catch_signals();
        rc = a.cmd->fn(&cli);
    }
    free(a.argv);
    cdc_conf_free(conf);
    return rc;
}
