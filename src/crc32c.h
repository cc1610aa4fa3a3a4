/* crc32c.h - CRC-32C (Castagnoli), as used by the trace file's blocks and header. */
#ifndef EPSCOPE_CRC32C_H
#define EPSCOPE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over n bytes of p; uses SSE4.2 when the CPU has it. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The same, always in portable software (for tests that compare the two). */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
