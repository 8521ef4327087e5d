/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the current namespace's firewall into the model: nftables through
 * libnftables (JSON, plus text for rule wording), iptables-nft and
 * iptables-legacy through their save commands (fixed arguments, no shell).
 */
#ifndef CTB_FIREWALL_READ_H
#define CTB_FIREWALL_READ_H

#include "firewall_model.h"

/*
 * 0 with RS filled; parts that could not be read are named in RS->unreadable.
 * Non-zero (ERR set) only when nothing can be trusted (out of memory).
 */
int ctb_firewall_read(struct fw_ruleset *rs, char *err, size_t errlen);

#define FW_MAX_SKIP 16

/* One iptables-save listing of SOURCE into RS; the nft tables it manages are
 * appended to SKIP ("family table", NSKIP of FW_MAX_SKIP used). */
int ctb_firewall_read_save(struct fw_ruleset *rs, const char *save, int family,
			   enum fw_source source, char skip[][2 * FW_NAME_LEN], size_t *nskip);

/* "iptables" when the plain command is this variant ("nft"/"legacy"), else the explicit name. */
const char *ctb_iptables_command(const char *variant, int family);

#endif
