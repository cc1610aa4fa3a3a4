/* policy.c - the trigger-mode policies (the table in policy.h, as code). */
#include "policy.h"

#include <stddef.h>
#include <sys/epoll.h>

static const struct policy policies[] = {
    /* level: say exactly what we wait for; the kernel repeats itself until it is done. */
    {.name = "level", .mode = EPT_MODE_LEVEL, .flags = 0,
     .register_all = false, .oneshot = false, .drain = false, .remember = false, .accepts = 16},
    /* edge: say everything once; the kernel speaks only on change, so drain and remember. */
    {.name = "edge", .mode = EPT_MODE_EDGE, .flags = EPOLLET,
     .register_all = true, .oneshot = false, .drain = true, .remember = true, .reads = 16},
    /* edge-oneshot: one event, then silence until we re-arm for exactly what comes next. */
    {.name = "edge-oneshot", .mode = EPT_MODE_ONESHOT, .flags = EPOLLET | EPOLLONESHOT,
     .register_all = false, .oneshot = true, .drain = true, .remember = true, .reads = 16},
};

const struct policy *policy_get(unsigned mode)
{
    return mode < sizeof(policies) / sizeof(policies[0]) ? &policies[mode] : NULL;
}

uint32_t policy_events(const struct policy *p, bool want_in, bool want_out)
{
    if (p->register_all)
        return EPOLLIN | EPOLLOUT | EPOLLRDHUP | p->flags;
    if (p->sticky_out)
        want_out = true;
    /* RDHUP only with IN: a level-triggered RDHUP nobody reads would fire forever. */
    uint32_t ev = (want_in ? EPOLLIN | EPOLLRDHUP : 0) | (want_out ? EPOLLOUT : 0);
    return ev ? ev | p->flags : 0;
}

enum policy_op policy_sync(const struct policy *p, const struct policy_reg *reg, uint32_t want,
                           bool hup)
{
    if (!reg->in_set)
        return want || p->register_all ? POLICY_ADD : POLICY_KEEP;
    if (p->register_all)
        return POLICY_KEEP;
    if (p->oneshot) {
        if (!reg->armed)  /* fired: silent until re-armed, and only re-armed if it waits */
            return want && !p->never_rearm ? POLICY_MOD : POLICY_KEEP;
        return want != reg->events ? POLICY_MOD : POLICY_KEEP;
    }
    if (!want && hup)
        return POLICY_DEL;
    return want != reg->events ? POLICY_MOD : POLICY_KEEP;
}
