/* story.c - the origin-style narrative lines. */
#include "story.h"

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
    fprintf(f, "Closing connection with client and backend server on socket %d and %d\n",
            client_fd, backend_fd);
}
