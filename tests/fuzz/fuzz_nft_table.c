// SPDX-License-Identifier: GPL-2.0
/*
 * `nft -j list table inet ctbypass`, read back by `status`, `attach` and
 * `detach`: parse_listing. It is static, so the file is compiled in here
 * rather than given an entry point only tests would use; the archive's own
 * nft_table.o is then never linked (every symbol it defines is defined here).
 */
#include "../../src/bypass/nft_table.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct ctb_nft_state st;

	memset(&st, 0, sizeof(st));
	ctb_config_init(&st.cfg);
	ctb_portset_clear(&st.cfg.ports);
	parse_listing(&st, text);
	/* Read back, an upstream's prefix never runs past its address. */
	for (size_t i = 0; i < st.cfg.upstreams.count; i++) {
		const struct ctb_upstream *up = &st.cfg.upstreams.items[i];

		FUZZ_ASSERT(up->prefixlen <= (up->family == AF_INET ? 32 : 128), "upstream /%u",
			    up->prefixlen);
	}
	ctb_nft_state_free(&st);
	free(text);
	return 0;
}
