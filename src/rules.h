/* rules.h - the diagnoses: each a named rule over the model (src/state.h), judged from
 * system calls alone while the analysis pass applies a trace's records in order. The
 * proxy's annotations (handle records, connection ids, close reasons) only add detail to a
 * message; none decides whether a finding exists. docs/diagnoses.md states every rule.
 *
 * How a pass drives them: after each state_apply, rules_record() and, when its time has
 * come, rules_watches(); from the state's hooks,
 * rules_batch_end() (a thread's batch ends at its next epoll_wait) and rules_drop() (a
 * file's last number is closed); at the trace's END record, rules_end().
 */
#ifndef EPSCOPE_RULES_H
#define EPSCOPE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "ept.h"
#include "state.h"

/* Rule ids: stable, also their order in reports. */
enum rule_id {
    RULE_MISTRIGGER = 0,
    RULE_EDGE_STARVATION,
    RULE_ONESHOT_NOT_REARMED,
    RULE_BUSY_EPOLLOUT,
    RULE_EOF_SPIN,
    RULE_ACCEPT_STARVATION,
    RULE_STALE_EVENT,
    RULE_SPURIOUS_WAKEUP,
    RULE_CLOSED_FD,            /* closed-fd-still-registered */
    RULE_RDHUP_LOSS,           /* rdhup-data-loss */
    RULE_LOST_OUT_EDGE,        /* lost-out-edge */
    RULE_EDGE_HOG,             /* edge-hog (warning) */
    RULE_THUNDERING_HERD,      /* thundering-herd (warning) */
    RULE_LOST_RECORDS,
    RULE_COUNT
};

/* The thresholds the rules use (docs/diagnoses.md quotes them). */
#define RULE_STALL_NS 200000000ull /* a socket left waiting this long has stalled */
#define RULE_BUSY_OUT_EVENTS 3     /* EPOLLOUT events in a row with no write in between */
#define RULE_EOF_EVENTS 3          /* EPOLLIN/RDHUP events after read() returned 0 */
#define RULE_SPURIOUS_MIN 3        /* EPOLLIN wake-ups that found nothing, at least... */
#define RULE_HOG_READS 64          /* full reads of one socket in one event's handling... */
#define RULE_HOG_BYTES (1u << 20)  /* ...moving at least this much */
#define RULE_HERD_MIN 5            /* wake-ups of an idle loop that found nothing to accept */
#define RULE_HERD_SHARE 20         /* ...and at least 1 in this many of the listener's */
#define RULE_HERD_IDLE_NS 20000ull /* a wait that blocked this long: the loop was idle */

/* One diagnosis: the records that show it, the socket, and what happened, in words. */
struct finding {
    unsigned rule;            /* enum rule_id */
    uint64_t first, last;     /* positions of the records that show it */
    uint64_t first_seq, last_seq; /* lost-records: the seq numbers that were dropped */
    uint32_t sid;             /* the socket, 0 if none */
    int32_t fd;
    uint32_t conn;            /* the proxy's connection id, 0 when not written */
    uint64_t count;           /* occurrences folded into this finding */
    /* lost-records: lost to a damaged file, not to a full ring (count and last_seq 0 while
     * the record after the damage is not known) */
    int damaged;
    char what[240];           /* what happened here, in one or two sentences */
};

/* A rule's id ("mis-trigger"), severity ("error" / "warning"), one-paragraph explanation
 * for students, and fix. */
const char *rule_name(unsigned id);
const char *rule_severity(unsigned id);
int rule_is_error(unsigned id);
const char *rule_explain(unsigned id);
const char *rule_fix(unsigned id);
/* The explanation and fix of one finding: its rule's, or the damaged file's for records lost
 * to damage. */
const char *finding_explain(const struct finding *f);
const char *finding_fix(const struct finding *f);

struct rules;

/* Rules watching st (which the caller applies records to). Never NULL. */
struct rules *rules_new(struct state *st);
void rules_free(struct rules *R);
/* What a rule does with one record type, after the model applied it (t: the thread that
 * made it, as state_apply returned): rules.c has a hook per type some rule looks at (on_read,
 * on_write...) in rules_hooks, indexed by type; the others have none. */
typedef void rules_hook_fn(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                           uint64_t pos);
extern rules_hook_fn *const rules_hooks[EPT_TYPE_COUNT];
/* After t = state_apply(st, rec, pos); then rules_watches() when rec->ns reaches
 * *rules_due(R). Inline: the pass runs it for every record. */
static inline void rules_record(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                                uint64_t pos)
{
    if (rec->type < EPT_TYPE_COUNT && rules_hooks[rec->type])
        rules_hooks[rec->type](R, t, rec, pos);
}
/* When the first watched socket is due (UINT64_MAX when none is): a stable address, so
 * the pass tests every record's time against it without a call. */
const uint64_t *rules_due(const struct rules *R);
/* Judge the watched sockets whose time has come (record pos, time ns). */
void rules_watches(struct rules *R, uint64_t pos, uint64_t ns);
/* From the state's hooks. */
void rules_batch_end(struct rules *R, struct state_thread *t, uint64_t pos, uint64_t ns);
void rules_drop(struct rules *R, struct state_sock *s, uint64_t pos, uint64_t ns);
/* The trace ended (its END record, at pos, time ns): judge what is still open. */
void rules_end(struct rules *R, uint64_t pos, uint64_t ns);
/* The trace is damaged before position pos (bytes at file offset off skipped, why), the
 * record before it numbered first_seq - 1: a lost-records finding from first_seq on, and no
 * pattern completed across the gap. Damage right after damage adds to the same finding. */
void rules_damage(struct rules *R, uint64_t pos, uint64_t off, uint64_t bytes, const char *why,
                  uint64_t first_seq);
/* The first record read after damage is numbered seq: the finding's range ends before it. */
void rules_damage_end(struct rules *R, uint64_t seq);
/* The findings so far, in the order found. */
size_t rules_findings(const struct rules *R, const struct finding **out);

#endif
