// SPDX-License-Identifier: GPL-2.0
/*
 * VM lab smoke test: does this kernel let BPF trace conntrack? Loads
 * bpf/lab_smoke.bpf.c twice, once with only the fentry program and once with
 * only the kprobe, makes conntrack allocate entries, and checks that the loaded
 * program counted them. Runs in a private network namespace so it leaves nothing
 * behind; needs root.
 *
 * Debian 11's 5.10 has no BTF for modules (Linux 5.11), so fentry cannot reach the
 * nf_conntrack module there: on a kernel before 5.11 the fentry check is that the
 * load is refused (ctbypass watch falls back to kprobes there); from 5.11 on it must load.
 *
 * Usage: lab_smoke [-v]   (-v shows libbpf's messages)
 * Exit: 0 all passed, 1 a check failed, 2 usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>
#include <nftables/libnftables.h>
#include "lab_smoke.skel.h"

/* UDP packets sent per phase; each from a new socket, so each is a new flow. */
#define FLOWS 8
#define DISCARD_PORT 9

static int verbose;
static int passed, failed;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void check(int ok, const char *fmt, ...)
{
	va_list args;

	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static int set_loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			err = -errno;
	}
	close(fd);
	return err;
}

/*
 * Conntrack only hooks a namespace once something there needs it; a `ct state`
 * rule is such a user, so every packet sent afterwards gets an entry.
 */
static int enable_conntrack(void)
{
	static const char rules[] =
	    "add table inet lab_smoke\n"
	    "add chain inet lab_smoke out { type filter hook output priority 0; }\n"
	    "add rule inet lab_smoke out ct state new counter\n";
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int err;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	err = nft_run_cmd_from_buffer(nft, rules) ? -EINVAL : 0;
	if (err)
		fprintf(stderr, "lab_smoke: nft: %s", nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return err;
}

/* Sends FLOWS datagrams to the discard port on loopback, each a new flow. */
static int make_flows(void)
{
	struct sockaddr_in dst = {
	    .sin_family = AF_INET,
	    .sin_port = htons(DISCARD_PORT),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	for (int i = 0; i < FLOWS; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int err = 0;

		if (fd < 0)
			return -errno;
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			err = -errno;
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

/*
 * One phase: load and attach only the fentry or only the kprobe program, make
 * flows, and return what each counter saw (the other program's must stay 0).
 */
static int run_phase(int use_fentry, __u64 *fentry_calls, __u64 *kprobe_calls)
{
	struct lab_smoke *skel;
	int err;

	skel = lab_smoke__open();
	if (!skel)
		return -errno;
	bpf_program__set_autoload(
	    use_fentry ? skel->progs.ct_alloc_kprobe : skel->progs.ct_alloc_fentry, false);
	err = lab_smoke__load(skel);
	if (!err)
		err = lab_smoke__attach(skel);
	if (!err)
		err = make_flows();
	if (!err) {
		*fentry_calls = skel->bss->fentry_calls;
		*kprobe_calls = skel->bss->kprobe_calls;
	}
	lab_smoke__destroy(skel);
	return err;
}

/* Kernel release before 5.11 (no module BTF), from uname. */
static int before_module_btf(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major < 5 || (major == 5 && minor < 11);
}

static void test_attach(int use_fentry)
{
	const char *kind = use_fentry ? "fentry" : "kprobe";
	__u64 fentry_calls = 0, kprobe_calls = 0;
	int err = run_phase(use_fentry, &fentry_calls, &kprobe_calls);
	__u64 mine = use_fentry ? fentry_calls : kprobe_calls;
	__u64 other = use_fentry ? kprobe_calls : fentry_calls;

	if (use_fentry && before_module_btf() &&
	    access("/sys/module/nf_conntrack/initstate", F_OK) == 0) {
		check(err && access("/sys/kernel/btf/nf_conntrack", F_OK) != 0,
		      "fentry on __nf_conntrack_alloc %s before 5.11 (no module BTF)",
		      err ? "refused, as expected" : "loaded, though not expected");
		return;
	}
	if (err) {
		check(0, "%s on __nf_conntrack_alloc: %s", kind, strerror(-err));
		return;
	}
	check(mine > 0 && other == 0,
	      "%s on __nf_conntrack_alloc counted %llu of %d flows (other %llu)", kind,
	      (unsigned long long)mine, FLOWS, (unsigned long long)other);
}

int main(int argc, char **argv)
{
	int opt, err;

	while ((opt = getopt(argc, argv, "vh")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 'h':
			printf("usage: %s [-v]\n", argv[0]);
			return 0;
		default:
			fprintf(stderr, "usage: %s [-v]\n", argv[0]);
			return 2;
		}
	}
	libbpf_set_print(print_libbpf);

	/* A private namespace: its rules and entries vanish when we exit. */
	err = unshare(CLONE_NEWNET) ? -errno : 0;
	if (!err)
		err = set_loopback_up();
	if (!err)
		err = enable_conntrack();
	check(!err, "private netns with conntrack active%s%s", err ? ": " : "",
	      err ? strerror(-err) : "");
	if (!err) {
		test_attach(1);
		test_attach(0);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
