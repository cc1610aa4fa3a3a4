#!/usr/bin/env python3
"""asyncio_echo.py - an echo server on python's asyncio: a control written by nobody here
(the event loop is python's), for `epscope record` and the lab.

Usage: asyncio_echo.py --listen 127.0.0.1:PORT (PORT 0: any free port). Prints
"listening on 127.0.0.1:PORT" once ready; SIGTERM or SIGINT ends it with exit 0, so that
python runs its exit handlers and a recorded trace is closed."""
import argparse
import asyncio
import signal
import sys


async def echo(reader, writer):
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()  # backpressure: asyncio waits for EPOLLOUT here
    writer.close()


async def main(host, port):
    server = await asyncio.start_server(echo, host, port)
    addr = server.sockets[0].getsockname()
    print("listening on %s:%d" % addr[:2], flush=True)
    await server.serve_forever()


def listen_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host, int(port)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=listen_addr, required=True, metavar="HOST:PORT")
    args = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    asyncio.run(main(*args.listen))
