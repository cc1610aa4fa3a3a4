/* test_check.c - `epscope check --help`: every diagnosis the rules table (src/rules.c)
 * knows is listed, under its severity, so that no rule goes unmentioned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "rules.h"

/* Run `check --help` with stdout sent to a temp file; returns its text (to be freed). */
static char *help_text(void)
{
    char *argv[] = {"check", "--help", NULL};
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 1) >= 0);
    int rc = check_main(2, argv);
    fflush(stdout);
    assert_true(dup2(saved, 1) >= 0);
    close(saved);
    assert_int_equal(rc, 0);
    /* the writes went through fd 1, which shares tmp's offset: the end is the size */
    off_t n = lseek(fileno(tmp), 0, SEEK_END);
    assert_true(n > 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(tmp), text, (size_t)n, 0), n);
    fclose(tmp);
    return text;
}

/* The line of the help that lists the diagnoses of one severity, with its continuation
 * lines, as one string (to be freed). */
static char *severity_block(const char *text, const char *label)
{
    char head[32];
    snprintf(head, sizeof(head), "\n  %-10s", label);
    const char *p = strstr(text, head);
    assert_non_null(p);
    p += strlen(head);
    const char *end = p;
    while ((end = strchr(end, '\n')) && !strncmp(end + 1, "            ", 12))
        end++;
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char *block = calloc(1, len + 1);
    assert_non_null(block);
    memcpy(block, p, len);
    return block;
}

/* Whether name is a whole item of the comma-separated block. */
static int lists(const char *block, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = block; (p = strstr(p, name)); p += n) {
        int starts = p == block || p[-1] == ' ';
        int ends = p[n] == ',' || p[n] == '\n' || p[n] == 0;
        if (starts && ends)
            return 1;
    }
    return 0;
}

static void test_help_lists_every_rule(void **state)
{
    (void)state;
    char *text = help_text();
    char *errors = severity_block(text, "errors");
    char *warnings = severity_block(text, "warnings");
    for (unsigned id = 0; id < RULE_COUNT; id++) {
        const char *name = rule_name(id);
        int err = rule_is_error(id);
        if (!lists(err ? errors : warnings, name))
            fail_msg("check --help does not list %s under %s:\n%s", name,
                     err ? "errors" : "warnings", text);
        if (lists(err ? warnings : errors, name))
            fail_msg("check --help lists %s under the wrong severity", name);
    }
    free(errors);
    free(warnings);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
