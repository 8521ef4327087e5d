// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include "attachment.h"
#include "daemon.h"
#include "daemon_claim.h"
#include "daemon_events.h"
#include "daemon_guard.h"
#include "daemon_metrics.h"
#include "daemon_tcx_watch.h"
#include "health.h"
#include "log.h"
#include "preflight.h"

/*
 * What woke a look: at start an apply always runs; events wait out a backoff,
 * but an interface's may go through once per backoff: our own changes never
 * make those, so one is likely new work (an interface re-created while an
 * apply ran, which left it uncovered and backed off, must not wait for the
 * verify interval), yet a repair that keeps failing is not retried on every
 * veth a busy host creates.
 */
enum wake { WAKE_START, WAKE_EVENT, WAKE_LINK, WAKE_PERIODIC, WAKE_RELOAD, WAKE_GUARD };

/* Notifications come in bursts (one change is many messages): look once they settle. */
#define SETTLE_MS 50
/* Our own changes notify too; the rulesets are read again at most this often. */
#define PREFLIGHT_MIN_MS 2000
/* The preflight also runs this often: iptables-legacy changes notify nothing. */
#define PREFLIGHT_EVERY_MS 30000

struct daemon {
	const struct ctb_context *ctx;
	const struct ctb_daemon_source *src;
	struct ctb_daemon_settings want;
	bool gate_passed; /* the preflight let the current settings through */
	char blocking_now[1024]; /* ids of blocking findings last logged, to log changes only */
	bool applied; /* an apply ran since the last check_after_apply */
	long long retry_at, backoff_ms; /* events wait till then after an apply that did not help */
	long long link_passed_at; /* the RETRY_AT an interface's event already went past */
	/* When the last repair took the front of a tcx hook back from another
	 * program: one that keeps taking it is answered ever more slowly. */
	long long front_repaired_ms;
	/* The repairable problems an apply left, as last logged: said again only when they change. */
	char still_wrong[2048];
	/* The namespace's claim (daemon_claim.h), held while there is something to
	 * bypass: a daemon that only watches leaves the CLI free. -1: not held. */
	int claim;
	struct ctb_daemon_metrics metrics;
	struct ctb_daemon_guard guard;
	struct ctb_tcx_watch tcx_watch;
};

/*
 * The daemon manages the namespace (holds its claim, applies) when it has
 * something to bypass: configured traffic, a guard that may add some, or
 * what the guard added before.
 */
static bool manages(const struct daemon *d)
{
	return ctb_config_has_targets(&d->want.cfg) || ctb_guard_enabled(&d->want.guard) ||
	       (d->guard.record && d->guard.record->count);
}

#define dlog ctb_dlog


static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctb_daemon_load(const struct ctb_daemon_source *src, struct ctb_daemon_settings *out,
		    char *err, size_t errlen)
{
	char why[CTB_ERR_LEN];
	int ret;

	ctb_daemon_settings_init(out);
	ret = ctb_daemon_config_read(out, src->config_path, src->config_must_exist, err, errlen);
	for (size_t i = 0; !ret && i < src->count; i++) {
		ret = ctb_daemon_set(out, src->keys[i], src->values[i], why, sizeof(why));
		if (ret)
			snprintf(err, errlen, "--%s: %s", src->keys[i], why);
	}
	if (!ret && ctb_daemon_settings_check(out, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		ret = -EINVAL;
	}
	if (ret)
		ctb_daemon_settings_free(out);
	return ret;
}

/*
 * The preflight for the wanted settings. Blocking findings not accepted are
 * logged when they change; the first time (start, reload) they keep the
 * daemon from applying, later they are reported but the bypass stays (a
 * change of the firewall is the operator's, not ours to undo).
 */
static bool preflight_allows(struct daemon *d)
{
	struct ctb_findings findings;
	char err[CTB_ERR_LEN], ids[sizeof(d->blocking_now)] = "";
	size_t used = 0;
	bool ok;

	d->metrics.state.preflight_blocking = 0;
	if (!ctb_config_has_targets(&d->want.cfg))
		return true;
	if (ctb_preflight(&d->want.cfg, &findings, err, sizeof(err))) {
		dlog(LOG_ERR, "preflight failed: %s", err);
		d->metrics.state.preflight_blocking = 1; /* unknown: counted as one problem */
		return false;
	}
	ctb_findings_accept(&findings, d->want.accept);
	for (size_t i = 0; i < findings.count; i++) {
		const struct ctb_finding *f = &findings.items[i];

		if (!f->blocking || f->accepted || d->want.force)
			continue;
		d->metrics.state.preflight_blocking++;
		used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%s", used ? "," : "",
					 f->id);
		if (used >= sizeof(ids))
			used = sizeof(ids) - 1;
		if (!strstr(d->blocking_now, f->id))
			dlog(LOG_WARNING, "preflight refuses [%s]: %s", f->id, f->message);
	}
	ok = !used;
	if (ok && d->blocking_now[0])
		dlog(LOG_NOTICE, "preflight: no blocking finding any more");
	snprintf(d->blocking_now, sizeof(d->blocking_now), "%s", ids);
	ctb_findings_free(&findings);
	return ok;
}

/*
 * What the table will record: the wanted traffic and what the guard added,
 * interfaces canonical, acceptance.
 */
static int desired(struct daemon *d, struct ctb_config *cfg, struct ctb_iface_list *ifaces)
{
	int ret;

	if (ctb_config_copy(cfg, &d->want.cfg) || ctb_guard_record_apply(d->guard.record, cfg))
		return CTB_EXIT_RUNTIME;
	free(cfg->iface_list);
	cfg->iface_list = NULL;
	ret = ctb_resolve_ifaces(d->want.cfg.iface_list, ifaces);
	if (ret)
		return ret;
	if (d->want.cfg.iface_list && ifaces->count && ctb_record_iface_list(ifaces, cfg))
		return CTB_EXIT_RUNTIME;
	cfg->forced = d->want.force;
	snprintf(cfg->accepted, sizeof(cfg->accepted), "%s", d->want.accept);
	return CTB_EXIT_OK;
}

/* The problems an apply would fix, joined: what "still wrong" compares and logs. */
static void join_repairable(const struct ctb_health *h, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->count && used < len; i++)
		if (!h->advisory[i])
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "; " : "",
						 h->problems[i]);
}

/*
 * After an apply that failed, or left problems it should have fixed, events
 * alone do not trigger another until RETRY_AT: the apply's own notifications
 * would otherwise wake us into the same apply again. The wait doubles from 1 s
 * up to the verify interval; the periodic look always tries.
 */
static void back_off(struct daemon *d)
{
	long long limit = (long long)(d->want.verify_interval * 1000);

	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : 1000;
	if (d->backoff_ms > limit)
		d->backoff_ms = limit;
	d->retry_at = now_ms() + d->backoff_ms;
}

static bool has_problem(const struct ctb_health *h, enum ctb_problem_kind kind)
{
	for (size_t i = 0; i < h->count; i++)
		if (h->kinds[i] == kind)
			return true;
	return false;
}

/* Another program this recently in front again: a tool that insists on it. */
#define FRONT_FIGHT_MS 30000

/*
 * A repair just put the classifier back in front of another program on tcx.
 * A tool that keeps taking the front (on every restart of its agent, say)
 * would otherwise get a full apply a second for good: answer it ever more
 * slowly, up to the verify interval, and say so once.
 */
static void front_taken_back(struct daemon *d)
{
	long long now = now_ms();

	if (d->front_repaired_ms && now - d->front_repaired_ms < FRONT_FIGHT_MS) {
		back_off(d);
		if (d->backoff_ms == 1000)
			dlog(LOG_WARNING, "another program keeps taking the front of the tcx hook "
					  "back: the next repairs of it wait longer, up to %g s",
			     d->want.verify_interval);
	}
	d->front_repaired_ms = now;
}

/*
 * An apply that succeeded, by what it repaired: the ctbypass_repairs_total metric.
 * OTHER_TRAFFIC: the table there held other traffic than configured.
 */
static void count_repairs(struct daemon *d, const struct ctb_attachment *att, bool other_traffic,
			  const struct ctb_health *health)
{
	uint64_t *repairs = d->metrics.state.repairs;

	if (!ctb_attachment_exists(att)) {
		repairs[CTB_REPAIR_NOT_ATTACHED]++;
		return;
	}
	for (size_t i = 0; i < health->count; i++)
		if (!health->advisory[i])
			repairs[health->kinds[i]]++;
	if (other_traffic)
		repairs[CTB_REPAIR_CONFIGURATION]++;
}

/*
 * One look, and a repair if needed, under the namespace's lock: the state is
 * read, judged by the same health checks `status` makes, and compared with
 * the configuration; anything off is logged (one line each) and applied
 * through the reconcile path `attach` uses. WHY says what woke us.
 */
static int reconcile(struct daemon *d, const char *why, enum wake wake)
{
	struct ctb_iface_list ifaces = { 0 };
	struct ctb_attachment att;
	struct ctb_health health = { 0 };
	struct ctb_config cfg = { 0 };
	struct ctb_lock lock = { -1 };
	char err[CTB_ERR_LEN];
	bool differs, ok = false;
	size_t repairable;
	int ret;

	if (!d->gate_passed || !manages(d))
		return 0;
	if ((wake == WAKE_EVENT || wake == WAKE_LINK) && now_ms() < d->retry_at) {
		if (wake == WAKE_EVENT || d->link_passed_at == d->retry_at)
			return 0;
		d->link_passed_at = d->retry_at;
	}
	ret = ctb_begin_change(d->ctx, "daemon", 2, &lock);
	if (ret)
		return ret;
	ret = CTB_EXIT_RUNTIME;
	if (ctb_attachment_find(&att, err, sizeof(err))) {
		dlog(LOG_ERR, "cannot read the current state: %s", err);
		goto out_att;
	}
	/* An --iface that does not exist (yet): said once per try, tried again backed off. */
	if (desired(d, &cfg, &ifaces)) {
		back_off(d);
		goto out;
	}
	/* A guard that has added nothing yet: nothing to apply, what is there stays. */
	if (!ctb_config_has_targets(&cfg)) {
		ok = true;
		ret = 0;
		goto out;
	}
	if (ctb_health_check_locked(&att, &health))
		goto out;
	differs = !att.nft.present || !ctb_config_same_traffic(&cfg, &att.nft.cfg);
	repairable = ctb_health_repairable(&health);
	if (ctb_verbose)
		dlog(LOG_DEBUG, "%s: differs %d, %zu problems, %zu repairable", why, differs,
		     health.count, repairable);
	/* At start an apply adopts what is there in place (a new binary's classifier). */
	if (!differs && !repairable && wake != WAKE_START) {
		d->backoff_ms = 0;
		ok = true;
		ret = 0;
		ctb_daemon_metrics_observe(&d->metrics, &att, &health);
		ctb_tcx_watch_note(&d->tcx_watch, &att);
		goto out;
	}
	if (!ctb_attachment_exists(&att))
		dlog(LOG_NOTICE, "%s: not attached: applying the configuration", why);
	else if (differs)
		dlog(LOG_NOTICE, "%s: the kernel's configuration differs from the wanted one: "
				 "applying it", why);
	for (size_t i = 0; i < health.count; i++)
		if (!health.advisory[i])
			dlog(LOG_NOTICE, "%s: repairing: %s", why, health.problems[i]);
	fflush(stdout);
	/* A fresh classifier over the same maps, as `attach` does: new interfaces get it.
	 * The guard's changes keep it (only sets and maps change: sooner in place), and
	 * always flush: the entries of what it bypasses are what fills the table. */
	ret = ctb_apply_and_report("daemon", &att, &cfg, &ifaces, wake != WAKE_GUARD,
				   wake == WAKE_GUARD || !d->want.no_flush);
	fflush(stdout);
	ok = !ret;
	d->applied = ok;
	/* At start an apply that only adopts what is there repairs nothing. */
	if (ok && (differs || repairable || !ctb_attachment_exists(&att)))
		count_repairs(d, &att, att.nft.present && !ctb_config_same_traffic(&cfg, &att.nft.cfg),
			      &health);
	if (ok && has_problem(&health, CTB_PROBLEM_FOREIGN_AHEAD))
		front_taken_back(d);
	if (!ok) {
		/* Rolled back: what was read before the apply is, in effect, what the kernel
		 * holds (the tcx watch keeps what it noted last: programs may differ). */
		ctb_daemon_metrics_observe(&d->metrics, &att, &health);
		back_off(d);
		dlog(LOG_ERR, "%s: the repair failed; next try in %lld ms at the latest", why,
		     d->backoff_ms);
	}
out:
	ctb_health_free(&health);
	ctb_config_free(&cfg);
	ctb_iface_list_free(&ifaces);
out_att:
	ctb_attachment_free(&att);
	ctb_end_change(&lock, ok, false);
	return ret;
}

/* After an apply: a problem it should have fixed and did not is said once, then backed off. */
static void check_after_apply(struct daemon *d)
{
	struct ctb_attachment att;
	struct ctb_health health = { 0 };
	char err[CTB_ERR_LEN], problems[sizeof(d->still_wrong)];

	if (!d->applied)
		return;
	d->applied = false;
	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_attachment_free(&att);
		return;
	}
	if (!ctb_health_check(&att, &health)) {
		ctb_daemon_metrics_observe(&d->metrics, &att, &health);
		ctb_tcx_watch_note(&d->tcx_watch, &att);
		join_repairable(&health, problems, sizeof(problems));
		if (problems[0]) {
			if (strcmp(problems, d->still_wrong))
				dlog(LOG_WARNING, "still wrong after a repair (tried again at most "
						  "every %g s): %s",
				     d->want.verify_interval, problems);
			back_off(d);
		}
		snprintf(d->still_wrong, sizeof(d->still_wrong), "%s", problems);
	}
	ctb_health_free(&health);
	ctb_attachment_free(&att);
}

static int detach_all(struct daemon *d, const char *what);

/*
 * The guard says the table nears full (WHY: its numbers): pick what to add,
 * apply it through the usual reconcile, and keep it in the record only once
 * it is in place. One log line says what and why.
 */
static void guard_act(struct daemon *d, const char *why)
{
	struct ctb_guard_record *next = malloc(sizeof(*next)), *kept = malloc(sizeof(*kept));
	uint64_t *actions = d->metrics.state.guard_actions;
	struct ctb_config bypassed = { 0 };
	char summary[1024];
	long long t0 = now_ms();
	int n;

	ctb_guard_trigger_acted(&d->guard.trigger, t0);
	if (!d->gate_passed) {
		dlog(LOG_WARNING, "guard: %s: not acting while the preflight refuses the configured "
				  "bypass", why);
		actions[CTB_GUARD_ACTION_NONE_ALLOWED]++;
		goto out;
	}
	if (!next || !kept || ctb_config_copy(&bypassed, &d->want.cfg) ||
	    ctb_guard_record_apply(d->guard.record, &bypassed)) {
		dlog(LOG_ERR, "guard: %s: out of memory", why);
		goto out;
	}
	n = ctb_daemon_guard_pick(&d->guard, &bypassed, d->want.accept, why, next, summary,
				  sizeof(summary));
	if (n < 0) {
		dlog(LOG_ERR, "guard: %s: cannot read the table: %s", why, strerror(-n));
		actions[CTB_GUARD_ACTION_FAILED]++;
		goto out;
	}
	if (!n) {
		dlog(LOG_WARNING, "guard: %s: %s", why, summary);
		actions[CTB_GUARD_ACTION_NONE_ALLOWED]++;
		goto out;
	}
	/* Applied with the picks in the record; put back as it was if the apply fails. */
	*kept = *d->guard.record;
	*d->guard.record = *next;
	if (reconcile(d, "guard", WAKE_GUARD)) {
		*d->guard.record = *kept;
		dlog(LOG_ERR, "guard: %s: %s: the apply failed, nothing changed", why, summary);
		actions[CTB_GUARD_ACTION_FAILED]++;
		goto out;
	}
	ctb_daemon_guard_commit(&d->guard, next);
	actions[CTB_GUARD_ACTION_BYPASS]++;
	dlog(LOG_WARNING, "guard: %s: %s, in place after %lld ms", why, summary, now_ms() - t0);
	check_after_apply(d);
out:
	ctb_config_free(&bypassed);
	free(next);
	free(kept);
}

/* The table stayed below the release level long enough: what the guard added goes. */
static void guard_release(struct daemon *d, const char *why)
{
	struct ctb_guard_record *kept = malloc(sizeof(*kept));
	size_t count = d->guard.record->count;

	if (!kept)
		return;
	*kept = *d->guard.record;
	d->guard.record->count = 0;
	if (!ctb_config_has_targets(&d->want.cfg)) {
		/* Nothing configured: releasing is detaching. */
		if (detach_all(d, "released what the guard added")) {
			*d->guard.record = *kept;
			d->metrics.state.guarded = kept->count;
			d->metrics.state.guard_actions[CTB_GUARD_ACTION_FAILED]++;
			free(kept);
			return;
		}
	} else if (reconcile(d, "guard release", WAKE_RELOAD)) {
		*d->guard.record = *kept;
		dlog(LOG_ERR, "guard: %s: releasing failed, what it added stays", why);
		d->metrics.state.guard_actions[CTB_GUARD_ACTION_FAILED]++;
		ctb_guard_trigger_acted(&d->guard.trigger, now_ms());
		free(kept);
		return;
	} else {
		check_after_apply(d);
	}
	kept->count = 0;
	ctb_daemon_guard_commit(&d->guard, kept);
	d->metrics.state.guard_actions[CTB_GUARD_ACTION_RELEASE]++;
	dlog(LOG_NOTICE, "guard: %s: released the %zu additions; the configured bypass stays",
	     why, count);
	free(kept);
}

/*
 * The guard's verdicts for its candidates, ahead of need: the bypass it would
 * add to is the configured one (what it added is bypassed already).
 */
static void prepare_guard(struct daemon *d)
{
	struct ctb_config cfg = { 0 };

	if (!d->guard.enabled)
		return;
	if (ctb_config_copy(&cfg, &d->want.cfg) ||
	    ctb_guard_record_apply(d->guard.record, &cfg)) {
		ctb_config_free(&cfg);
		return;
	}
	ctb_daemon_guard_prepare(&d->guard, &cfg, d->want.accept);
	ctb_config_free(&cfg);
}

static int detach_all(struct daemon *d, const char *what)
{
	struct ctb_attachment att;
	struct ctb_lock lock = { -1 };
	char err[CTB_ERR_LEN];
	int ret = ctb_begin_change(d->ctx, "daemon", 10, &lock);

	if (ret)
		return ret;
	ret = ctb_attachment_find(&att, err, sizeof(err));
	if (!ret && ctb_attachment_exists(&att))
		ret = ctb_attachment_remove(&att, err, sizeof(err));
	if (ret) {
		dlog(LOG_ERR, "%s: the detach is incomplete: %s", what, err);
	} else {
		dlog(LOG_NOTICE, "%s: detached", what);
		/* ctb_end_change removes the record's file: nothing the guard added is left. */
		d->guard.record->count = 0;
		d->metrics.state.guarded = 0;
		ctb_tcx_watch_free(&d->tcx_watch); /* nothing of ours to watch */
	}
	ctb_attachment_free(&att);
	ctb_end_change(&lock, !ret, !ret);
	return ret ? CTB_EXIT_RUNTIME : 0;
}

/* Takes the namespace's claim if not held yet: 0, or -EBUSY / -errno, logged. */
static int own(struct daemon *d, bool at_start)
{
	struct ctb_daemon_owner owner;
	int ret;

	if (d->claim >= 0)
		return 0;
	ret = ctb_daemon_claim(&d->claim, d->src->config_path, &owner);
	if (!ret)
		return 0;
	d->claim = -1;
	if (ret == -EBUSY && at_start)
		ctb_err("another ctbypass daemon (pid %ld, %s) manages this namespace",
			(long)owner.pid, owner.config);
	else if (ret == -EBUSY)
		dlog(LOG_ERR, "another ctbypass daemon (pid %ld, %s) manages this namespace",
		     (long)owner.pid, owner.config);
	else if (at_start)
		ctb_err("cannot claim this namespace: %s", strerror(-ret));
	else
		dlog(LOG_ERR, "cannot claim this namespace: %s", strerror(-ret));
	return ret;
}

static void disown(struct daemon *d)
{
	ctb_daemon_release(d->claim);
	d->claim = -1;
}

/*
 * SIGHUP: the new settings replace the old only once read whole and let
 * through. True when they did (the loop's timers then follow them).
 */
static bool reload_settings(struct daemon *d);

static bool reload(struct daemon *d)
{
	bool ok = reload_settings(d);

	d->metrics.state.reload_ok = ok;
	return ok;
}

static bool reload_settings(struct daemon *d)
{
	struct ctb_daemon_settings next;
	char err[CTB_ERR_LEN];

	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
	if (ctb_daemon_load(d->src, &next, err, sizeof(err))) {
		dlog(LOG_ERR, "reload refused, keeping the running configuration: %s", err);
		sd_notify(0, "READY=1\nSTATUS=running (the last reload was refused)");
		return false;
	}
	struct ctb_daemon_settings old = d->want;
	char old_blocking[sizeof(d->blocking_now)];
	size_t old_count = d->metrics.state.preflight_blocking;

	if ((ctb_config_has_targets(&next.cfg) || ctb_guard_enabled(&next.guard) ||
	     d->guard.record->count) &&
	    own(d, false)) {
		dlog(LOG_ERR, "reload refused, keeping the running configuration");
		ctb_daemon_settings_free(&next);
		sd_notify(0, "READY=1\nSTATUS=running (the last reload was refused)");
		return false;
	}
	d->want = next;
	snprintf(old_blocking, sizeof(old_blocking), "%s", d->blocking_now);
	d->blocking_now[0] = '\0';
	if (ctb_config_has_targets(&next.cfg) && !preflight_allows(d)) {
		dlog(LOG_ERR, "reload refused by the preflight, keeping the running "
			       "configuration (fix the rules, or accept the ids in the file)");
		d->want = old;
		snprintf(d->blocking_now, sizeof(d->blocking_now), "%s", old_blocking);
		d->metrics.state.preflight_blocking = old_count;
		ctb_daemon_settings_free(&next);
		sd_notify(0, "READY=1\nSTATUS=running (the last reload was refused)");
		return false;
	}
	if (strcmp(old.metrics_address, next.metrics_address) || old.telemetry != next.telemetry)
		dlog(LOG_WARNING, "metrics-address and telemetry changes take effect at the next "
				  "start; the running ones stay");
	ctb_daemon_settings_free(&old);
	d->gate_passed = true;
	dlog(LOG_NOTICE, "configuration reloaded");
	/* What the guard added stays; what the configuration now bypasses itself is its. */
	ctb_daemon_guard_settings(&d->guard, &d->want.guard);
	ctb_daemon_guard_prune(&d->guard, &d->want.cfg);
	prepare_guard(d);
	if (!manages(d)) {
		/* What we bypassed goes with our ownership; anything else is not ours. */
		if (d->claim >= 0) {
			detach_all(d, "nothing to bypass, watching only");
			disown(d);
		}
	} else {
		if (!reconcile(d, "reload", WAKE_RELOAD))
			check_after_apply(d);
	}
	d->retry_at = 0;
	d->backoff_ms = 0;
	sd_notify(0, "READY=1\nSTATUS=running");
	return true;
}

/*
 * The daemon's own looks (each reconcile) keep the metrics' view of the
 * attachment fresh; the metrics look themselves only when those stopped (a
 * daemon that only watches), never in step with them.
 */
static long long look_max_age_ms(const struct daemon *d)
{
	return (long long)(d->want.verify_interval * 1500) + 1000;
}

static int open_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The next signal, 0 when none is pending. */
static int next_signal(int fd)
{
	struct signalfd_siginfo si;

	return read(fd, &si, sizeof(si)) == sizeof(si) ? (int)si.ssi_signo : 0;
}

static int loop(struct daemon *d, struct ctb_events *ev, int sigfd)
{
	long long verify_at = now_ms() + (long long)(d->want.verify_interval * 1000);
	long long preflight_at = now_ms() + PREFLIGHT_EVERY_MS, settle_at = -1;
	long long preflight_last = now_ms();
	long long metrics_at = now_ms() + (long long)(d->want.metrics_interval * 1000);
	unsigned int pending = 0;

	for (;;) {
		struct pollfd pfd[3] = { { ctb_events_fd_rtnl(ev), POLLIN, 0 },
					 { ctb_events_fd_nfnl(ev), POLLIN, 0 },
					 { sigfd, POLLIN, 0 } };
		long long now = now_ms(), wake = verify_at;
		bool looked = false; /* read the kernel's state this round */
		int sig;

		if (settle_at >= 0 && settle_at < wake)
			wake = settle_at;
		if (preflight_at < wake)
			wake = preflight_at;
		if (d->metrics.server && metrics_at < wake)
			wake = metrics_at;
		if (d->guard.next_sample_ms < wake)
			wake = d->guard.next_sample_ms;
		if (d->tcx_watch.count && d->tcx_watch.next_ms < wake)
			wake = d->tcx_watch.next_ms;
		if (poll(pfd, 3, wake > now ? (int)(wake - now) : 0) < 0 && errno != EINTR) {
			dlog(LOG_ERR, "cannot wait for changes: %s", strerror(errno));
			return CTB_EXIT_RUNTIME;
		}
		while ((sig = next_signal(sigfd))) {
			if (sig == SIGHUP) {
				if (reload(d)) {
					verify_at = now_ms() +
						    (long long)(d->want.verify_interval * 1000);
					preflight_last = now_ms();
					preflight_at = preflight_last + PREFLIGHT_EVERY_MS;
				}
				continue;
			}
			dlog(LOG_NOTICE, "stopping on %s", strsignal(sig));
			sd_notify(0, "STOPPING=1");
			if (d->want.detach_on_stop && d->claim >= 0)
				return detach_all(d, "stopping with detach-on-stop");
			dlog(LOG_INFO, "the bypass stays in place (detach-on-stop is off)");
			return 0;
		}
		if (pfd[0].revents || pfd[1].revents) {
			unsigned int kinds = ctb_events_drain(ev);

			if (ctb_verbose)
				dlog(LOG_DEBUG, "notified: %#x", kinds);
			if (kinds && settle_at < 0)
				settle_at = now_ms() + SETTLE_MS;
			pending |= kinds;
		}
		now = now_ms();
		if (d->tcx_watch.count && now >= d->tcx_watch.next_ms) {
			if (ctb_tcx_watch_changed(&d->tcx_watch)) {
				pending |= CTB_EVENT_TCX;
				if (settle_at < 0)
					settle_at = now;
			}
			d->tcx_watch.next_ms = now + CTB_TCX_WATCH_MS;
		}
		/* First: a table filling up waits for nothing else. */
		if (now >= d->guard.next_sample_ms) {
			char why[160];

			switch (ctb_daemon_guard_sample(&d->guard, now, why, sizeof(why))) {
			case CTB_GUARD_ACT:
				guard_act(d, why);
				looked = true;
				break;
			case CTB_GUARD_RELEASE:
				guard_release(d, why);
				looked = true;
				break;
			case CTB_GUARD_LIMITED:
				dlog(LOG_WARNING, "guard: %s: waiting (at most %d actions a minute, "
						  "%d s apart)",
				     why, CTB_GUARD_ACTIONS_PER_MINUTE, CTB_GUARD_HOLDOFF_MS / 1000);
				break;
			case CTB_GUARD_IDLE:
				break;
			}
			now = now_ms();
		}
		if (settle_at >= 0 && now >= settle_at) {
			const char *why = pending & CTB_EVENT_LOST ? "notifications lost"
					  : pending & CTB_EVENT_NFT ? "nftables changed"
					  : pending & CTB_EVENT_TC  ? "a qdisc or filter changed"
					  : pending & CTB_EVENT_TCX ? "the tcx hook changed"
								    : "an interface changed";
			enum wake wake = pending & CTB_EVENT_LINK ? WAKE_LINK : WAKE_EVENT;

			/* rulesets changed: read them again soon, but not on every change */
			if (pending & CTB_EVENT_NFT) {
				long long soon = preflight_last + PREFLIGHT_MIN_MS;

				if (soon < now)
					soon = now;
				if (soon < preflight_at)
					preflight_at = soon;
			}
			settle_at = -1;
			pending = 0;
			if (!reconcile(d, why, wake))
				check_after_apply(d);
			looked = true;
		}
		if (now >= preflight_at) {
			bool before = d->gate_passed;

			d->gate_passed = preflight_allows(d) || before;
			/* The rules may have changed: the guard's verdicts are decided again now,
			 * not when it must act. */
			prepare_guard(d);
			looked = true;
			if (!before && d->gate_passed &&
			    !reconcile(d, "the preflight now allows it", WAKE_START))
				check_after_apply(d);
			preflight_last = now_ms();
			preflight_at = preflight_last + PREFLIGHT_EVERY_MS;
		}
		if (now >= verify_at) {
			if (!reconcile(d, "periodic check", WAKE_PERIODIC))
				check_after_apply(d);
			looked = true;
			verify_at = now_ms() + (long long)(d->want.verify_interval * 1000);
		}
		if (d->metrics.server && now_ms() >= metrics_at) {
			ctb_daemon_metrics_refresh(&d->metrics, look_max_age_ms(d));
			looked = true;
			metrics_at = now_ms() + (long long)(d->want.metrics_interval * 1000);
		}
		/* A look reads whole rulesets and sets; give the peak back before sleeping. */
		if (looked)
			malloc_trim(0);
	}
}

int ctb_daemon_run(const struct ctb_context *ctx, const struct ctb_daemon_source *src)
{
	struct daemon d = { .ctx = ctx, .src = src, .claim = -1 };
	struct ctb_events ev;
	char err[CTB_ERR_LEN];
	int sigfd, ret;

	ret = ctb_daemon_load(src, &d.want, err, sizeof(err));
	if (ret) {
		ctb_err("%s", err);
		return ret == -EINVAL ? CTB_EXIT_USAGE : CTB_EXIT_RUNTIME;
	}
	if (ctb_daemon_guard_start(&d.guard, &d.want.guard, &d.metrics.state)) {
		ctb_err("out of memory");
		ctb_daemon_settings_free(&d.want);
		return CTB_EXIT_RUNTIME;
	}
	ctb_daemon_guard_prune(&d.guard, &d.want.cfg);
	if (manages(&d) && own(&d, true)) {
		ctb_daemon_guard_stop(&d.guard);
		ctb_daemon_settings_free(&d.want);
		return CTB_EXIT_RUNTIME;
	}
	sigfd = open_signals();
	ret = sigfd < 0 ? sigfd : ctb_events_open(&ev);
	if (ret) {
		ctb_err("cannot listen for changes: %s", strerror(-ret));
		if (sigfd >= 0)
			close(sigfd);
		disown(&d);
		ctb_daemon_guard_stop(&d.guard);
		ctb_daemon_settings_free(&d.want);
		return CTB_EXIT_RUNTIME;
	}
	/* After the signals are blocked: the server's thread inherits the mask. */
	ret = ctb_daemon_metrics_start(&d.metrics, &d.want, err, sizeof(err));
	if (ret) {
		ctb_err("%s", err);
		ctb_events_close(&ev);
		close(sigfd);
		disown(&d);
		ctb_daemon_guard_stop(&d.guard);
		ctb_daemon_settings_free(&d.want);
		return CTB_EXIT_RUNTIME;
	}
	if (d.metrics.server)
		dlog(LOG_INFO, "serving metrics on http://%s/metrics (telemetry: %s)",
		     d.want.metrics_address, d.metrics.backend);
	/* Subscribed first: a change during the first apply is not missed. */
	d.gate_passed = preflight_allows(&d);
	if (!d.gate_passed)
		dlog(LOG_ERR, "the preflight refuses the configuration: not applied; the "
			       "daemon keeps watching and applies it once the rules allow it");
	if (!manages(&d))
		dlog(LOG_NOTICE, "nothing to bypass in the configuration: watching only (the "
				  "namespace stays the CLI's)");
	prepare_guard(&d);
	if (d.guard.enabled)
		dlog(LOG_INFO, "guard on: acting at %g %% full or on a drop, releasing %s",
		     d.want.guard.fill,
		     d.want.guard.release_minutes > 0 ? "below the release level" : "never");
	if (!reconcile(&d, "start", WAKE_START))
		check_after_apply(&d);
	/* A scrape from the start finds a sample. */
	ctb_daemon_metrics_refresh(&d.metrics, look_max_age_ms(&d));
	sd_notify(0, "READY=1\nSTATUS=running");
	dlog(LOG_INFO, "running (pid %ld)", (long)getpid());
	ret = loop(&d, &ev, sigfd);
	ctb_tcx_watch_free(&d.tcx_watch);
	ctb_daemon_metrics_stop(&d.metrics);
	ctb_daemon_guard_stop(&d.guard);
	ctb_events_close(&ev);
	close(sigfd);
	disown(&d);
	ctb_daemon_settings_free(&d.want);
	return ret;
}
