#!/usr/bin/env python3
"""ept_mangle.py - damage a .ept trace on purpose, for the reader tests: rewrite fields and fix
the block CRCs so the damage reaches past them (docs/trace-format.md gives the layout).

usage: ept_mangle.py IN OUT ACTION [ARG]
  sid VALUE      set the sid of the first socket-bearing record with a sid to VALUE
  conn VALUE     the same for its conn field
  flip BLOCK     flip one byte in the records of block BLOCK (0-based), CRC left as it is
  cut BLOCKS     keep the first BLOCKS blocks: a writer killed between two blocks (every
                 block whole, no end record)
  result VALUE   set the result of every epoll_wait and connect record to VALUE (int32)
  trailers MIB   write a block header claiming 16 MiB, then the 8-byte trailer pattern
                 {L, "BTPE"} in every slot, MIB mebibytes in all (the quadratic scan)
"""
import struct
import sys

HDR_FIXED, BLOCK_HDR, BLOCK_TRAILER = 96, 40, 8
BLOCK_MAGIC, BLOCK_TAIL = 0x42545045, 0x45505442
# record types whose body starts with a struct ept_sock {fd, sid, conn, role}
SOCK_TYPES = {2, 4, 5, 6, 8, 9, 10, 11, 12, 16, 19, 20, 23, 24}


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def blocks(buf):
    """(offset, length) of every block, walking from the header on."""
    off = struct.unpack_from("<I", buf, 12)[0]
    out = []
    while off + BLOCK_HDR <= len(buf):
        magic, length = struct.unpack_from("<II", buf, off)
        if magic != BLOCK_MAGIC or length < BLOCK_HDR + BLOCK_TRAILER or off + length > len(buf):
            break
        out.append((off, length))
        off += length
    return out


def fix_crc(buf, off, length):
    struct.pack_into("<I", buf, off + 20, 0)
    struct.pack_into("<I", buf, off + 20, crc32c(bytes(buf[off:off + length])))


def records(buf, off, length):
    pos, end = off + BLOCK_HDR, off + length - BLOCK_TRAILER
    while pos < end:
        rtype, size = struct.unpack_from("<HH", buf, pos)
        yield pos, rtype
        pos += size


def set_sock_field(buf, field, value):
    for off, length in blocks(buf):
        for pos, rtype in records(buf, off, length):
            if rtype in SOCK_TYPES and struct.unpack_from("<I", buf, pos + 28)[0]:
                struct.pack_into("<I", buf, pos + 24 + 4 * field, value)
                fix_crc(buf, off, length)
                return
    sys.exit("no record with a socket id")


def set_results(buf, value):
    for off, length in blocks(buf):
        for pos, rtype in records(buf, off, length):
            if rtype == 3:        # ept_epoll_wait.result
                struct.pack_into("<i", buf, pos + 36, value)
            elif rtype == 8:      # ept_connect.result
                struct.pack_into("<i", buf, pos + 44, value)
        fix_crc(buf, off, length)


def main():
    src, dst, action = sys.argv[1], sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else "0"
    buf = bytearray(open(src, "rb").read())
    if action in ("sid", "conn"):
        set_sock_field(buf, 1 if action == "sid" else 2, int(arg, 0))
    elif action == "flip":
        off, length = blocks(buf)[int(arg)]
        buf[off + BLOCK_HDR + 8] ^= 0x01   # a record's seq: only the CRC can tell
    elif action == "cut":
        bl = blocks(buf)
        n = int(arg)
        if n >= len(bl):
            sys.exit("the trace has only %d blocks" % len(bl))
        del buf[bl[n][0]:]
    elif action == "result":
        set_results(buf, int(arg, 0))
    elif action == "trailers":
        first = struct.unpack_from("<I", buf, 12)[0]
        total = int(arg) << 20
        del buf[first:]
        claim = 16 << 20
        buf += struct.pack("<IIQIIQQ", BLOCK_MAGIC, claim, 1, 1, 0, 0, 0)
        while len(buf) < total:
            slot = len(buf) - first + 8           # the block length this slot would end
            buf += struct.pack("<II", slot, BLOCK_TAIL)
    else:
        sys.exit("unknown action " + action)
    open(dst, "wb").write(buf)


if __name__ == "__main__":
    main()
