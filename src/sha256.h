/* sha256.h: SHA-256 (FIPS 180-4), for trace IDs derived from a name. */
#ifndef XRAY_SEG_SHA256_H
#define XRAY_SEG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* The digest of the len bytes at data. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

#endif
