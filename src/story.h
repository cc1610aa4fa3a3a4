/* story.h - the human narrative of a proxy run, in the words of the course project that
 * started epscope ("Received incoming data on socket: 8"). Shared by `proxy --story` and
 * `dump --story`, so both tell the same story. */
#ifndef EPSCOPE_STORY_H
#define EPSCOPE_STORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ept.h"

/* The handler took n bytes from fd as data (n may be 0: the origin's broken case). */
void story_received(FILE *f, int fd, const uint8_t *data, size_t n);
/* The handler forwarded a buffer to fd. */
void story_forward(FILE *f, int fd);
/* Both sockets of a connection are closed (backend_fd -1: it never had one). */
void story_closing(FILE *f, int client_fd, int backend_fd);

/* Telling the story from trace records, by the same rules the live proxy follows. */
struct story {
    FILE *f;
    uint32_t empty_conn;  /* a read found nothing on this connection... */
    int empty_fd;         /* ...on this fd: told only if an empty buffer is forwarded */
    int close_fd;         /* a client closed; its backend's close comes next */
    uint32_t close_conn;
};
void story_init(struct story *s, FILE *f);
void story_rec(struct story *s, const struct ept_rec *r);
void story_end(struct story *s);

#endif
