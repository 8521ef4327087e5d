// SPDX-License-Identifier: GPL-2.0
#include "preflight.h"
#include "health.h"
#include "log.h"

int ctb_preflight_health(const struct ctb_config *cfg, struct ctb_health *health)
{
	struct ctb_findings findings;
	char err[CTB_ERR_LEN];
	int ret = 0;

	if (cfg->forced || !ctb_config_has_targets(cfg))
		return 0;
	if (ctb_preflight(cfg, &findings, err, sizeof(err)))
		return ctb_health_add(health, CTB_PROBLEM_PREFLIGHT,
				      "cannot run the preflight on the current firewall: %s",
				      err);
	ctb_findings_accept(&findings, cfg->accepted);
	for (size_t i = 0; i < findings.count && !ret; i++) {
		const struct ctb_finding *f = &findings.items[i];

		if (f->blocking && !f->accepted)
			ret = ctb_health_add(health, CTB_PROBLEM_PREFLIGHT,
					     "the preflight now refuses the bypass (the firewall, or what "
					     "is bypassed, changed since it was accepted): [%s] %s",
					     f->id, f->message);
	}
	ctb_findings_free(&findings);
	return ret;
}
