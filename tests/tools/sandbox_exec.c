// SPDX-License-Identifier: GPL-2.0
/*
 * sandbox_exec: run a command under the confinement a systemd unit's
 * SystemCallFilter=, SystemCallErrorNumber=, SystemCallArchitectures=native,
 * RestrictAddressFamilies= and MemoryDenyWriteExecute= would give it, so a
 * unit's options can be tested where systemd is not PID 1.
 *
 *   sandbox_exec [--errno N] [--families F,F...] [--mdwe] --allow NR,NR... -- CMD [ARG...]
 *
 * --allow: system call numbers let through (the caller resolves systemd's
 * groups and names); any other call fails with errno N (default EPERM), as
 * SystemCallErrorNumber=N does. A call of another architecture, x32's
 * included, kills the process (SystemCallArchitectures=native).
 * --families: socket() only for these address families (numbers), others
 * fail with EAFNOSUPPORT, as RestrictAddressFamilies= does.
 * --mdwe: no memory both writable and executable, and none made executable
 * later (prctl PR_SET_MDWE; systemd 252 does the same with seccomp).
 * Sets no_new_privs first, as the unit's NoNewPrivileges= does (and as a
 * filter needs without CAP_SYS_ADMIN).
 * Exit: 2 for a usage error, 1 if the confinement cannot be set up; else CMD's exec.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

#define MAX_NRS 1024
#define MAX_FAMILIES 32
#define X32_SYSCALL_BIT 0x40000000u

static const char usage[] =
	"Usage: sandbox_exec [--errno N] [--families F,...] [--mdwe] --allow NR,... -- CMD [ARG...]\n";

/* A comma-separated list of numbers into OUT; the count, or -1 if malformed. */
static int parse_list(const char *text, unsigned int *out, int max)
{
	int n = 0;

	while (*text) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(text, &end, 10);
		if (errno || end == text || v > 0xffff || n == max || (*end && *end != ','))
			return -1;
		out[n++] = (unsigned int)v;
		text = *end ? end + 1 : end;
	}
	return n;
}

static unsigned int errno_of(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *end || end == text || v < 1 || v > 4095 ? 0 : (unsigned int)v;
}

/*
 * The filter: the architecture, then socket()'s family, then one
 * "equal: allow" pair per number (pairs, not a jump to a shared allow: a
 * jump reaches at most 255 instructions ahead), then the errno.
 */
static int build(struct sock_filter *f, const unsigned int *nrs, int nnrs,
		 const unsigned int *fams, int nfams, unsigned int err)
{
	int n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	if (nfams) {
		/* skip: the load, one test per family, the refusal, the allow */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0,
						      (unsigned char)(nfams + 3));
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, args[0]));
		for (int i = 0; i < nfams; i++)
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fams[i],
							      (unsigned char)(nfams - i), 0);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | EAFNOSUPPORT);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		/* socket() is decided above, whether listed or not: the nr is still in A */
	}
	for (int i = 0; i < nnrs; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err);
	return n;
}

int main(int argc, char **argv)
{
	static unsigned int nrs[MAX_NRS], fams[MAX_FAMILIES];
	static struct sock_filter filter[2 * MAX_NRS + MAX_FAMILIES + 16];
	struct sock_fprog prog;
	int nnrs = -1, nfams = 0, i;
	unsigned int err = EPERM;
	int mdwe = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--mdwe")) {
			mdwe = 1;
		} else if (i + 1 < argc && !strcmp(argv[i], "--allow")) {
			nnrs = parse_list(argv[++i], nrs, MAX_NRS);
		} else if (i + 1 < argc && !strcmp(argv[i], "--families")) {
			nfams = parse_list(argv[++i], fams, MAX_FAMILIES);
		} else if (i + 1 < argc && !strcmp(argv[i], "--errno")) {
			err = errno_of(argv[++i]);
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (nnrs < 1 || nfams < 0 || !err || i + 1 >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("sandbox_exec: no_new_privs");
		return 1;
	}
	if (mdwe && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0)) {
		perror("sandbox_exec: PR_SET_MDWE");
		return 1;
	}
	prog.len = (unsigned short)build(filter, nrs, nnrs, fams, nfams, err);
	prog.filter = filter;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("sandbox_exec: seccomp");
		return 1;
	}
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "sandbox_exec: %s: %s\n", argv[i + 1], strerror(errno));
	return 1;
}
