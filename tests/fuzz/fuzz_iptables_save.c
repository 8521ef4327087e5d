// SPDX-License-Identifier: GPL-2.0
/*
 * iptables-save text, as `iptables-nft-save` / `iptables-legacy-save` print it:
 * fw_parse_iptables_save for both families, then the preflight analysis.
 */
#include "fuzz_preflight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);

	for (int family = 4; family <= 6; family += 2) {
		struct fw_ruleset rs = { 0 };

		if (!fw_parse_iptables_save(&rs, text, family, family == 4 ? FW_SRC_IPTABLES_NFT
									    : FW_SRC_IPTABLES_LEGACY)) {
			fuzz_check_ruleset(&rs);
			fuzz_analyse(&rs);
		}
		fw_ruleset_free(&rs);
	}
	free(text);
	return 0;
}
