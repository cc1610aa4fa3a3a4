/* story.h - the human narrative of a proxy run, in the words of the course project that
 * started epscope ("Received incoming data on socket: 8"). Shared by `proxy --story` and
 * `dump --story`, so both tell the same story. */
#ifndef EPSCOPE_STORY_H
#define EPSCOPE_STORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The handler took n bytes from fd as data (n may be 0: the origin's broken case). */
void story_received(FILE *f, int fd, const uint8_t *data, size_t n);
/* The handler forwarded a buffer to fd. */
void story_forward(FILE *f, int fd);
/* Both sockets of a connection are closed. */
void story_closing(FILE *f, int client_fd, int backend_fd);

#endif
