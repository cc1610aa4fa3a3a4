/* fuzz_trace.c - libFuzzer target: a whole .ept file through everything that reads traces:
 * the reader, the replay model and every rule (model_open runs the analysis), the viewer's
 * panes drawn after a few keys, dump's text and JSON for every record, and the Chrome
 * export. A custom mutator fixes the CRCs after each mutation (tests/fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chrome.h"
#include "fmt.h"
#include "fuzz.h"
#include "grid.h"
#include "model.h"
#include "panes.h"
#include "view.h"
#include "replay.h"

/* The input as a file the reader can open and map (a memfd: no disk, no name clash). */
static int as_file(const uint8_t *data, size_t size, char *path, size_t len)
{
    int fd = memfd_create("fuzz.ept", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

/* What dump prints, in text and JSON, for every record, and the Chrome export. */
static void dump_all(struct replay *r)
{
    char line[8192];
    struct sbuf b;
    uint64_t n = replay_count(r);
    for (uint64_t pos = 0; pos < n; pos++) {
        const struct ept_rec *rec = replay_rec(r, pos);
        if (!rec)
            break;
        sb_init(&b, line, sizeof(line));
        fmt_rec(&b, rec);
        sb_init(&b, line, sizeof(line));
        fmt_rec_json(&b, rec, 0);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        chrome_write(null, r);
        fclose(null);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[300];
    int fd = as_file(data, size, path, sizeof(path));
    if (fd < 0)
        return 0;
    static struct view v; /* its model is the one check and dump use: analysed once */
    char *paths[] = {path, path};
    if (model_open(&v, paths, size % 2 ? 2 : 1, err, sizeof(err)) == 0) {
        dump_all(v.col[0].r);
        struct grid g;
        model_resize(&v, 100, 30);
        grid_init(&g, 100, 30, 1);
        static const char keys[] = "nnnwdiG\tip\tpwcazgD";
        for (const char *k = keys; *k; k++) {
            view_key(&v, (unsigned char)*k);
            pane_draw_screen(&v, &g);
        }
        grid_free(&g);
        model_close(&v);
    }
    close(fd);
    return 0;
}

#ifdef EPSCOPE_LIBFUZZER /* the replay driver (fuzz_driver.c) has no mutator */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 8) /* mostly valid checksums; sometimes leave the damage for the reader */
        fuzz_fix_crcs(data, size);
    return size;
}
#endif
