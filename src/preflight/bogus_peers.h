/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Addresses no real peer of a server has: a rule that drops only packets to
 * or from them (firewalld's RFC 3964 reject of 6to4 addresses of private
 * networks, IPv4-mapped destinations) breaks no connection a bypass carries.
 */
#ifndef CTB_BOGUS_PEERS_H
#define CTB_BOGUS_PEERS_H

#include <stdbool.h>
#include "firewall_model.h"

/* True when every address of P is one no remote peer can have. */
bool ctb_prefix_is_bogus_peer(const struct fw_prefix *p);

#endif
