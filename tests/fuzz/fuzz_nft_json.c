// SPDX-License-Identifier: GPL-2.0
/*
 * `nft -j list ruleset`: fw_parse_nft_json, skipping one table as the reader
 * does for those iptables-nft manages, then the preflight analysis.
 */
#include "fuzz_preflight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = { "ip filter" };
	char *text = fuzz_cstr(data, size);
	struct fw_ruleset rs = { 0 };

	if (!fw_parse_nft_json(&rs, text, skip, 1)) {
		fuzz_check_ruleset(&rs);
		fuzz_analyse(&rs);
	}
	fw_ruleset_free(&rs);
	free(text);
	return 0;
}
