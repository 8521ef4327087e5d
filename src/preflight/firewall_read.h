/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the current namespace's firewall into the model: nftables through
 * libnftables (JSON, plus text for rule wording), iptables-nft and
 * iptables-legacy through their save commands (fixed arguments, no shell).
 */
#ifndef CTB_FIREWALL_READ_H
#define CTB_FIREWALL_READ_H

#include "firewall_model.h"

int ctb_firewall_read(struct fw_ruleset *rs, char *err, size_t errlen);

/* "iptables" when the plain command is this variant ("nft"/"legacy"), else the explicit name. */
const char *ctb_iptables_command(const char *variant, int family);

#endif
