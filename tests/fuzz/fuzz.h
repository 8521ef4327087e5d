/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the libFuzzer harnesses. Parsers take C strings, so the fuzzer's
 * bytes are copied into an allocation of exactly size + 1: a read past the
 * terminator then lands in ASan's redzone instead of in the fuzzer's buffer.
 */
#ifndef CTB_FUZZ_H
#define CTB_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The bytes as they are, for binary input (netlink messages), same exact-size reasoning. */
static inline void *fuzz_bytes(const uint8_t *data, size_t size)
{
	void *b = malloc(size ? size : 1);

	if (!b)
		abort();
	memcpy(b, data, size);
	return b;
}

/*
 * How many leading bytes of BUF are whole netlink messages. libmnl's
 * mnl_nlmsg_ok compares nlmsg_len as an int, so a length above 2 GiB passes and
 * mnl_cb_run jumps far past the buffer. The kernel never sends one, and that
 * is libmnl's bug, not the parser's: the harnesses stop at such a message.
 */
static inline size_t fuzz_nl_whole(const void *buf, size_t size)
{
	size_t off = 0;

	while (size - off >= 16) {
		uint32_t len;

		memcpy(&len, (const char *)buf + off, sizeof(len));
		/* libmnl walks attributes up to the message's 4-aligned end
		 * (mnl_nlmsg_get_payload_tail), which the kernel always pads to. */
		if (len < 16 || len > size - off || ((len + 3) & ~3u) > size - off)
			break;
		off += (len + 3) & ~3u;
	}
	return off;
}

/*
 * A property the parser promised does not hold: abort, so libFuzzer saves the
 * input like any crash.
 */
#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* An error message must end within its buffer, whatever the input. */
static inline void fuzz_check_err(const char *err, size_t len)
{
	FUZZ_ASSERT(memchr(err, '\0', len) != NULL, "error message not terminated");
}

#endif
