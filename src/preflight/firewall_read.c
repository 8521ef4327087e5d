// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "firewall_read.h"
#include "nft_tables_list.h"

#define MAX_SKIP FW_MAX_SKIP

/* Where the save commands live: never found through the caller's PATH. */
static const char *const tool_dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

/* A clean environment: nothing of the caller's (LD_PRELOAD, locale) reaches them. */
static char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

/* The absolute path of CMD in TOOL_DIRS into PATH; false when none is executable. */
static bool tool_path(const char *cmd, char *path, size_t len)
{
	for (size_t i = 0; i < sizeof(tool_dirs) / sizeof(tool_dirs[0]); i++) {
		snprintf(path, len, "%s/%s", tool_dirs[i], cmd);
		if (!access(path, X_OK))
			return true;
	}
	return false;
}

/*
 * Runs a save command (fixed argv, by absolute path, clean environment) into
 * *OUT. -ENOENT: the command is not installed; -EIO: it ran and failed (its
 * listing is unread, not empty).
 */
static int capture(const char *cmd, char **out)
{
	char *const argv[] = { (char *)cmd, NULL };
	char path[PATH_MAX];
	posix_spawn_file_actions_t actions;
	size_t len = 0;
	FILE *mem;
	int fds[2], status, ret;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	*out = NULL;
	if (!tool_path(cmd, path, sizeof(path)))
		return -ENOENT;
	if (pipe(fds))
		return -errno;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&actions, fds[0]);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", 0, 0);
	/* The daemon blocks its signals (signalfd): the child must not inherit that. */
	posix_spawnattr_t attr;
	sigset_t none;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	ret = posix_spawn(&pid, path, &actions, &attr, argv, clean_env);
	posix_spawnattr_destroy(&attr);
	if (ret) {
		posix_spawn_file_actions_destroy(&actions);
		close(fds[0]);
		close(fds[1]);
		return -ENOENT;
	}
	posix_spawn_file_actions_destroy(&actions);
	close(fds[1]);
	mem = open_memstream(out, &len);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		if (mem)
			fwrite(buf, 1, (size_t)n, mem);
	close(fds[0]);
	if (mem)
		fclose(mem);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || !mem) {
		free(*out);
		*out = NULL;
		return mem ? -EIO : -ENOMEM;
	}
	return 0;
}

/* Legacy tables exist in this namespace only if the kernel lists some. */
static bool legacy_tables_exist(int family)
{
	FILE *f = fopen(family == 4 ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names",
			"r");
	int c;

	if (!f)
		return false;
	c = fgetc(f);
	fclose(f);
	return c != EOF;
}

/* Tables iptables-nft manages, as "family table": their nft form hides matches in xt blobs. */
static size_t managed_tables(const char *save, int family, char skip[][2 * FW_NAME_LEN],
			     size_t count)
{
	const char *p = save;

	while (p && *p && count < MAX_SKIP) {
		if (*p == '*') {
			int n = (int)strcspn(p + 1, "\n");

			snprintf(skip[count++], 2 * FW_NAME_LEN, "%s %.*s", family == 4 ? "ip" : "ip6",
				 n, p + 1);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return count;
}

/* One command's output, or NULL (its error in ERR when it failed). */
static char *nft_output(struct nft_ctx *nft, bool json, const char *cmd, char *err, size_t errlen)
{
	nft_ctx_output_set_flags(nft, json ? NFT_CTX_OUTPUT_JSON : NFT_CTX_OUTPUT_HANDLE);
	if (nft_run_cmd_from_buffer(nft, cmd)) {
		/* Both buffers read, so that nothing of this command leaks into the next's. */
		const char *why = nft_ctx_get_error_buffer(nft);

		nft_ctx_get_output_buffer(nft);
		if (errlen)
			snprintf(err, errlen, "%s", why);
		return NULL;
	}
	return strdup(nft_ctx_get_output_buffer(nft));
}

/* Gives nft rules their own wording, from the text listing's "# handle N" lines. */
static void attach_nft_texts(struct fw_ruleset *rs, const char *listing)
{
	char family[8] = "", table[FW_NAME_LEN] = "", chain[FW_NAME_LEN] = "";
	const char *line = listing;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);
		const char *mark;
		char text[FW_TEXT_LEN];
		unsigned long long handle;

		while (len && (*line == '\t' || *line == ' ')) {
			line++;
			len--;
		}
		/* After the indent is skipped: a mark inside it would put the wording before LINE. */
		mark = memmem(line, (size_t)len, " # handle ", 10);
		snprintf(text, sizeof(text), "%.*s", len, line);
		if (sscanf(text, "table %7s %63s", family, table) == 2) {
			chain[0] = '\0';
		} else if (sscanf(text, "chain %63s", chain) == 1) {
		} else if (mark && chain[0] && sscanf(mark, " # handle %llu", &handle) == 1) {
			struct fw_chain probe = { .source = FW_SRC_NFT };
			const struct fw_chain *ch;

			snprintf(probe.family, sizeof(probe.family), "%s", family);
			snprintf(probe.table, sizeof(probe.table), "%s", table);
			ch = fw_ruleset_find(rs, &probe, chain);
			for (size_t i = 0; ch && i < ch->rule_count; i++)
				if (ch->rules[i].handle == handle)
					snprintf(ch->rules[i].text, sizeof(ch->rules[i].text),
						 "%.*s", (int)(mark - line), line);
		}
		line = end ? end + 1 : NULL;
	}
}

int ctb_firewall_read_save(struct fw_ruleset *rs, const char *save, int family,
			   enum fw_source source, char skip[][2 * FW_NAME_LEN], size_t *nskip)
{
	/*
	 * A table iptables-nft cannot show is printed as "# Table `x' is
	 * incompatible" and no "*x": the other tables are still read here, and
	 * that one, not being listed as managed, is read as nftables.
	 */
	if (source == FW_SRC_IPTABLES_NFT)
		*nskip = managed_tables(save, family, skip, *nskip);
	return fw_parse_iptables_save(rs, save, family, source);
}

static int read_iptables(struct fw_ruleset *rs, char skip[][2 * FW_NAME_LEN], size_t *nskip)
{
	static const struct {
		const char *cmd;
		int family;
		enum fw_source source;
	} tools[] = {
		{ "iptables-nft-save", 4, FW_SRC_IPTABLES_NFT },
		{ "ip6tables-nft-save", 6, FW_SRC_IPTABLES_NFT },
		{ "iptables-legacy-save", 4, FW_SRC_IPTABLES_LEGACY },
		{ "ip6tables-legacy-save", 6, FW_SRC_IPTABLES_LEGACY },
	};

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		bool legacy = tools[i].source == FW_SRC_IPTABLES_LEGACY;
		char *save;
		int ret;

		if (legacy && !legacy_tables_exist(tools[i].family))
			continue;
		ret = capture(tools[i].cmd, &save);
		if (ret == -ENOMEM)
			return ret;
		if (ret == -ENOENT && !legacy)
			continue; /* not installed: its rules, if any, are read as nftables */
		if (!ret)
			ret = ctb_firewall_read_save(rs, save, tools[i].family, tools[i].source,
						     skip, nskip);
		free(save);
		if (ret == -ENOMEM)
			return ret;
		/* Legacy tables exist but cannot be listed: nothing else would show them. */
		if (ret)
			fw_ruleset_add_unreadable(rs, "%s: %s", tools[i].cmd,
						  ret == -ENOENT ? "not installed" : strerror(-ret));
	}
	return 0;
}

/*
 * The nftables tables one by one, but ctbypass's own: it only NOTRACKs, and
 * its sets can hold 65,535 ports that would take seconds to list and parse
 * on every preflight. A table deleted since it was listed is skipped.
 */
static int read_nft(struct fw_ruleset *rs, const char *const *skip, size_t nskip)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	struct ctb_nft_table_name *tables = NULL;
	size_t count = 0;
	char why[256];
	int ret;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	/* A dump a ruleset change interrupted (NLM_F_DUMP_INTR) is tried again. */
	for (int tries = 0; tries < 3; tries++) {
		ret = ctb_nft_tables_list(&tables, &count);
		if (ret != -EINTR)
			break;
	}
	if (ret == -EOPNOTSUPP || ret == -EPROTONOSUPPORT)
		ret = 0; /* no nf_tables in this kernel: no nftables rule to read */
	else if (ret && ret != -ENOMEM)
		ret = -EIO;
	for (size_t i = 0; i < count && ret != -ENOMEM; i++) {
		const char *family = tables[i].family, *table = tables[i].name;
		char cmd[300], *json, *text;

		if (!strcmp(family, "inet") && !strcmp(table, "ctbypass"))
			continue;
		/*
		 * JSON input: a table may be named like a keyword ("counter", "ip") or
		 * start with a digit, which the text syntax cannot name. The text
		 * listing only gives rules their wording: without it they keep the
		 * JSON's.
		 */
		json_t *req = json_pack("{s:[{s:{s:{s:s,s:s}}}]}", "nftables", "list", "table",
					"family", family, "name", table);
		char *req_text = req ? json_dumps(req, JSON_COMPACT) : NULL;

		json_decref(req);
		if (!req_text) {
			ret = -ENOMEM;
			break;
		}
		snprintf(cmd, sizeof(cmd), "list table %s %s", family, table);
		json = nft_output(nft, true, req_text, why, sizeof(why));
		free(req_text);
		text = json ? nft_output(nft, false, cmd, NULL, 0) : NULL;
		if (json) {
			int one = fw_parse_nft_json(rs, json, skip, nskip);

			if (!one && text)
				attach_nft_texts(rs, text);
			else if (one && (!ret || one == -ENOMEM))
				ret = one;
		} else if (!strstr(why, "No such file")) {
			ret = -EIO;
		}
		free(json);
		free(text);
	}
	free(tables);
	nft_ctx_free(nft);
	return ret;
}

int ctb_firewall_read(struct fw_ruleset *rs, char *err, size_t errlen)
{
	char skip[MAX_SKIP][2 * FW_NAME_LEN];
	const char *skip_ptrs[MAX_SKIP];
	size_t nskip = 0;
	int ret;

	memset(rs, 0, sizeof(*rs));
	ret = read_iptables(rs, skip, &nskip);
	if (ret) {
		snprintf(err, errlen, "cannot read the iptables rules: %s", strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < nskip; i++)
		skip_ptrs[i] = skip[i];
	ret = read_nft(rs, skip_ptrs, nskip);
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "cannot read the nftables ruleset: %s", strerror(-ret));
		return ret;
	}
	/* What was read stays: the caller reports the rest as not analysed. */
	if (ret)
		fw_ruleset_add_unreadable(rs, "the nftables ruleset: %s",
					  ret == -EIO ? "cannot list it" : strerror(-ret));
	return 0;
}

const char *ctb_iptables_command(const char *variant, int family)
{
	static const char *const names[2][2] = { { "iptables-nft", "ip6tables-nft" },
						 { "iptables-legacy", "ip6tables-legacy" } };
	char target[PATH_MAX];
	char *resolved = realpath(family == 4 ? "/usr/sbin/iptables" : "/usr/sbin/ip6tables",
				  target);
	bool legacy = !strcmp(variant, "legacy");

	if (resolved && strstr(resolved, legacy ? "legacy" : "nft"))
		return family == 4 ? "iptables" : "ip6tables";
	return names[legacy][family == 6];
}
