/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For harnesses whose parser hands netlink messages to libnetfilter_conntrack.
 * On an attribute of the wrong size that library prints "ABI breakage" and
 * calls exit(1): what `watch` and `doctor` would do on such a message from the
 * kernel. That is the library's choice, not a bug in our parser, and libFuzzer
 * counts any exit as a crash; so this harness's exit() returns to the harness
 * while a message is being parsed, and is the C library's exit otherwise.
 */
#ifndef CTB_FUZZ_NFCT_H
#define CTB_FUZZ_NFCT_H

#include <dlfcn.h>
#include <libmnl/libmnl.h>
#include <setjmp.h>
#include <stdlib.h>

static jmp_buf fuzz_nfct_jmp;
static volatile int fuzz_nfct_armed;

void exit(int status)
{
	void (*libc_exit)(int);

	if (fuzz_nfct_armed) {
		fuzz_nfct_armed = 0;
		longjmp(fuzz_nfct_jmp, 1);
	}
	libc_exit = (void (*)(int))dlsym(RTLD_NEXT, "exit");
	if (libc_exit)
		libc_exit(status);
	_Exit(status);
}

/* mnl_cb_run over BUF, abandoning the rest of it if the library gives up on a message. */
static inline void fuzz_nfct_cb_run(const void *buf, size_t len, mnl_cb_t cb, void *data)
{
	if (!setjmp(fuzz_nfct_jmp)) {
		fuzz_nfct_armed = 1;
		mnl_cb_run(buf, len, 0, 0, cb, data);
	}
	fuzz_nfct_armed = 0;
}

#endif
