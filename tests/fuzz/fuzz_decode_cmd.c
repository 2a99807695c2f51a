/* fuzz_decode_cmd.c - libFuzzer target: `cdcsink decode FILE`, the kcat -J
 * line reader and the JSON it prints, on arbitrary bytes.
 *
 * The input becomes the FILE (a memfd) of cdc_decode_cmd_main, the command's
 * public entry, with a default configuration: each line is parsed as a kcat
 * -J object (topic, partition, offset, key, payload, headers) and fed to the
 * decoder, and one JSON line is printed per record (stdout goes to
 * /dev/null; run with -close_fd_mask=2 to silence the reader's complaints).
 * The command must return 0, 1 or 2 and never crash, leak or read out of
 * bounds. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "consumer/cli/cmd_decode.h"
#include "consumer/cli/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    static cdc_conf_t *conf;
    static char path[64];
    if (fd < 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
            abort();
        close(null);
        if ((fd = memfd_create("fuzz.jsonl", 0)) < 0 || !(conf = cdc_conf_new()))
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    static char name[] = "decode";
    char *argv[] = {name, path, NULL};
    int rc = cdc_decode_cmd_main(2, argv, conf);
    fflush(stdout);
    if (rc < 0 || rc > 2)
        __builtin_trap();
    return 0;
}
