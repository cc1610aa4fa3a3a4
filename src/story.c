/* story.c - the origin-style narrative lines. */
#include "story.h"

#include <string.h>

void story_received(FILE *f, int fd, const uint8_t *data, size_t n)
{
    fprintf(f, "Received incoming data on socket: %d\nRead Data: ", fd);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = data[i];
        if (c == '\r')
            continue; /* the origin printed lines, not CRLF pairs */
        fputc(c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) ? c : '.', f);
    }
    if (!n || data[n - 1] != '\n')
        fputc('\n', f);
}

void story_forward(FILE *f, int fd)
{
    fprintf(f, "Forwarding packets to socket: %d\n", fd);
}

void story_closing(FILE *f, int client_fd, int backend_fd)
{
    if (backend_fd < 0)
        fprintf(f, "Closing connection with client on socket %d (no backend server)\n",
                client_fd);
    else
        fprintf(f, "Closing connection with client and backend server on socket %d and %d\n",
                client_fd, backend_fd);
}

void story_init(struct story *s, FILE *f)
{
    memset(s, 0, sizeof(*s));
    s->f = f;
    s->close_fd = -1;
}

void story_rec(struct story *s, const struct ept_rec *r)
{
    /* a client close waits for its backend's close, which is the very next record */
    if (s->close_fd >= 0 && r->type != EPT_CLOSE) {
        story_closing(s->f, s->close_fd, -1);
        s->close_fd = -1;
    }
    switch (r->type) {
    case EPT_READ: {
        struct ept_io io;
        ept_rec_get(r, &io, sizeof(io));
        size_t n;
        const uint8_t *p = ept_rec_tail(r, sizeof(io), io.preview_len, &n);
        if (io.result > 0) {
            story_received(s->f, io.s.fd, p, n);
            if (s->empty_conn == io.s.conn)
                s->empty_conn = 0;
        } else {
            /* told only if the handler then forwards it (the origin's broken case) */
            s->empty_conn = io.s.conn;
            s->empty_fd = io.s.fd;
        }
        break;
    }
    case EPT_WRITE: {
        struct ept_io io;
        ept_rec_get(r, &io, sizeof(io));
        if (io.asked == 0 && s->empty_conn && s->empty_conn == io.s.conn) {
            story_received(s->f, s->empty_fd, NULL, 0);
            s->empty_conn = 0;
        }
        if (io.result >= 0)
            story_forward(s->f, io.s.fd);
        break;
    }
    case EPT_CLOSE: {
        struct ept_close c;
        ept_rec_get(r, &c, sizeof(c));
        if (c.reason == EPT_CLOSE_RETRY || c.s.role == EPT_ROLE_LISTENER)
            break;
        if (c.s.role == EPT_ROLE_CLIENT) {
            if (s->close_fd >= 0)
                story_closing(s->f, s->close_fd, -1);
            s->close_fd = c.s.fd;
            s->close_conn = c.s.conn;
        } else if (s->close_fd >= 0 && c.s.conn == s->close_conn) {
            story_closing(s->f, s->close_fd, c.s.fd);
            s->close_fd = -1;
        }
        break;
    }
    default:
        break;
    }
}

void story_end(struct story *s)
{
    if (s->close_fd >= 0)
        story_closing(s->f, s->close_fd, -1);
    s->close_fd = -1;
}
