/*
 * gen_records.c - writes the record harness's seed corpus from the
 * samples table of tests/unit/test_record.c, so the seeds are the records
 * the unit tests already trust. Not built by make; to refresh the seeds:
 *
 *   cc -std=gnu11 -D_GNU_SOURCE -Isrc -o /tmp/gen_records \
 *       tests/fuzz/gen_records.c src/record.c -lcmocka
 *   /tmp/gen_records tests/fuzz/corpus/record
 *
 * Each file is fuzz_record.c's input: a selector byte (0 jobrec, 1 event,
 * 2 vpstat) and then the encoded record.
 */
#define main test_record_main
#include "../unit/test_record.c"
#undef main

#include <stdio.h>

int main(int argc, char **argv);

int
main(int argc, char **argv)
{
	unsigned char out[RECORD_MAX + 1];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_records DIR\n");
		return 64;
	}
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *p = sample_new(s);
		char path[4096], name[64];
		int n;
		FILE *f;

		out[0] = s->codec == &codec_jobrec ? 0 :
			 s->codec == &codec_event ? 1 : 2;
		n = s->codec->encode(p, out + 1, RECORD_MAX);
		free(p);
		if (n < 0) {
			fprintf(stderr, "%s: cannot encode\n", s->name);
			return 1;
		}
		snprintf(name, sizeof(name), "%s", s->name);
		for (char *c = name; *c != '\0'; c++)
			if (*c == ' ')
				*c = '-';
		snprintf(path, sizeof(path), "%s/%s", argv[1], name);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(out, 1, (size_t)n + 1, f) != (size_t)n + 1 ||
		    fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
