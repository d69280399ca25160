/*
 * fuzz_record.c - libFuzzer harness for the LMDB record decoders:
 * jobrec_decode(), event_decode() and vpstat_decode().
 *
 * The first byte chooses the decoder (its value mod 3: 0 jobrec, 1 event,
 * 2 vpstat); the rest is the record as LMDB would hand it over. Whatever
 * decodes must survive the round trip: the layout is canonical (fixed
 * fields, length-prefixed strings, trailing bytes refused), so encoding
 * what was decoded gives back the very same bytes, and decoding those
 * gives the same struct.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "fuzz_record: %s:%d: broken: %s\n", \
				__FILE__, __LINE__, #c);                  \
			abort();                                          \
		}                                                         \
	} while (0)

static unsigned char enc[RECORD_MAX];

/*
 * One kind of record: decode, and if that worked, check the round trip.
 * The structs start zeroed so that memcmp compares what was written.
 */
#define ROUND_TRIP(type, decode, encode)                                  \
	do {                                                              \
		static type a, b;                                         \
		int rc, n;                                                \
		memset(&a, 0, sizeof(a));                                 \
		memset(&b, 0, sizeof(b));                                 \
		rc = decode(in, len, &a);                                 \
		CHECK(rc == 0 || rc == -EINVAL);                          \
		if (rc != 0)                                              \
			break;                                            \
		n = encode(&a, enc, sizeof(enc));                         \
		CHECK(n >= 0);                                            \
		CHECK((size_t)n == len && memcmp(enc, in, len) == 0);     \
		CHECK(decode(enc, (size_t)n, &b) == 0);                   \
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);                    \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *in;
	size_t len;

	if (size == 0)
		return 0;
	in = data + 1;
	len = size - 1;
	switch (data[0] % 3) {
	case 0:
		ROUND_TRIP(struct jobrec, jobrec_decode, jobrec_encode);
		break;
	case 1:
		ROUND_TRIP(struct event, event_decode, event_encode);
		break;
	default:
		ROUND_TRIP(struct vpstat, vpstat_decode, vpstat_encode);
		break;
	}
	return 0;
}
