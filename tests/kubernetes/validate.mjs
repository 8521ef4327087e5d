// SPDX-License-Identifier: GPL-2.0
// Validates Kubernetes manifests offline, against the API schema kubernetes-models bundles
// (Kubernetes 1.27's OpenAPI definitions, compiled to validators at its release), in two
// passes, because the OpenAPI schema alone accepts any unknown field (it has no
// additionalProperties: false) where the API server, asked with kubectl's default strict
// field validation, rejects one:
//   1. each document's model validate(): types, required fields, formats;
//   2. TypeScript's excess-property check of each document against the same package's
//      interfaces: a misspelled or misplaced field anywhere is an error.
// Nothing is fetched: the schemas and types are in node_modules (npm ci, package-lock.json).
//
//   node validate.mjs FILE...         "FILE: ok KIND NAME" per document, or "FILE: error: ..."
//                                     lines; exit 1 if any file has an error
//   node validate.mjs --facts FILE    key=value lines for test_manifest.sh's consistency checks
//   node validate.mjs --data FILE CONFIGMAP KEY   a ConfigMap's data[KEY]
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));

function load(file) {
	const docs = parseAllDocuments(readFileSync(file, "utf8"));
	const out = [];
	for (const d of docs) {
		if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
		const o = d.toJS();
		if (o !== null && o !== undefined) out.push(o);
	}
	return out;
}

// "apps/v1" + "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet (core: v1/ConfigMap).
const modulePath = (o) => `kubernetes-models/${o.apiVersion}/${o.kind}`;
const label = (o) => `${o.kind} ${o.metadata?.name ?? "(no name)"}`;

async function schemaPass(docs, say) {
	let errors = 0;
	for (const o of docs) {
		if (typeof o.apiVersion !== "string" || typeof o.kind !== "string") {
			say(`error: a document without apiVersion and kind`);
			errors++;
			continue;
		}
		let mod;
		try {
			mod = await import(modulePath(o));
		} catch {
			say(`error: ${label(o)}: no schema for ${o.apiVersion} ${o.kind}`);
			errors++;
			continue;
		}
		try {
			new mod[o.kind](o).validate();
		} catch (e) {
			say(`error: ${label(o)}: ${e.message}`);
			errors++;
		}
	}
	return errors;
}

// One TypeScript program for every file (loading the types is most of the time). Returns
// the number of errors per file.
function strictPass(files, docsOf, sayOf) {
	const sources = files.map((f, n) => {
		const lines = [];
		docsOf[n].forEach((o, i) => {
			lines.push(`import type { I${o.kind} as T${i} } from "${modulePath(o)}";`);
			lines.push(`export const doc${i}: T${i} = ${JSON.stringify(o, null, 1)};`);
		});
		const ts_file = join(here, `.check-${process.pid}-${n}.ts`);
		writeFileSync(ts_file, lines.join("\n") + "\n");
		return ts_file;
	});
	const errors = files.map(() => 0);
	try {
		const program = ts.createProgram(sources, {
			strict: true, noEmit: true, skipLibCheck: true, types: [],
			module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
		});
		for (const d of ts.getPreEmitDiagnostics(program)) {
			const n = d.file ? sources.indexOf(d.file.fileName) : -1;
			let where = "";
			if (n >= 0 && d.start !== undefined) {
				// Which document: the last "export const docN" before the error.
				const before = d.file.text.slice(0, d.start);
				const m = [...before.matchAll(/export const doc(\d+)/g)].pop();
				if (m) where = `${label(docsOf[n][Number(m[1])])}: `;
			}
			const msg = `error: ${where}${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
			if (n >= 0) {
				sayOf[n](msg);
				errors[n]++;
			} else {
				// Not in a document (the types themselves): every file fails with it.
				sayOf.forEach((say, i) => { say(msg); errors[i]++; });
			}
		}
	} finally {
		for (const f of sources) rmSync(f, { force: true });
	}
	return errors;
}

function facts(docs) {
	const ds = docs.find((o) => o.kind === "DaemonSet");
	const ns = docs.find((o) => o.kind === "Namespace");
	const pod = ds.spec.template.spec;
	const c = pod.containers[0];
	const sc = c.securityContext ?? {};
	const vols = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
	const hostPaths = (c.volumeMounts ?? [])
		.filter((m) => vols[m.name]?.hostPath)
		.map((m) => `${vols[m.name].hostPath.path}:${m.mountPath}`)
		.sort();
	const probe = (p) => (p?.httpGet ? `${p.httpGet.host ?? "(pod IP)"}:${p.httpGet.port}${p.httpGet.path}` : "none");
	const f = {
		containers: pod.containers.length,
		image: c.image,
		host_network: pod.hostNetwork === true,
		host_pid: pod.hostPID === true,
		caps_add: [...(sc.capabilities?.add ?? [])].sort().join(" "),
		caps_drop: [...(sc.capabilities?.drop ?? [])].sort().join(" "),
		privileged: sc.privileged === true,
		allow_privilege_escalation: sc.allowPrivilegeEscalation !== false,
		read_only_root: sc.readOnlyRootFilesystem === true,
		host_paths: hostPaths.join(" "),
		container_ports: (c.ports ?? []).map((p) => p.containerPort).join(" "),
		readiness: probe(c.readinessProbe),
		liveness: probe(c.livenessProbe),
		namespaces: [...new Set(docs.map((o) => o.metadata?.namespace).filter(Boolean))].join(" "),
		namespace_created: ns?.metadata?.name ?? "",
		pod_security: ns?.metadata?.labels?.["pod-security.kubernetes.io/enforce"] ?? "",
		max_surge: ds.spec.updateStrategy?.rollingUpdate?.maxSurge ?? "",
	};
	for (const [k, v] of Object.entries(f)) console.log(`${k}=${v}`);
}

const args = process.argv.slice(2);
try {
	if (args[0] === "--facts") {
		facts(load(args[1]));
	} else if (args[0] === "--data") {
		const cm = load(args[1]).find((o) => o.kind === "ConfigMap" && o.metadata?.name === args[2]);
		if (!cm || !(args[3] in (cm.data ?? {}))) throw new Error(`no ConfigMap ${args[2]} with ${args[3]}`);
		process.stdout.write(cm.data[args[3]]);
	} else if (args.length >= 1) {
		const sayOf = args.map((f) => (m) => console.log(`${f}: ${m}`));
		const docsOf = [];
		const errors = [];
		for (const [n, f] of args.entries()) {
			try {
				docsOf.push(load(f));
				if (!docsOf[n].length) throw new Error("no document");
				errors.push(await schemaPass(docsOf[n], sayOf[n]));
			} catch (e) {
				sayOf[n](`error: ${e.message}`);
				docsOf[n] = [];
				errors.push(1);
			}
		}
		strictPass(args, docsOf, sayOf).forEach((e, n) => { errors[n] += e; });
		args.forEach((f, n) => {
			if (!errors[n]) for (const o of docsOf[n]) sayOf[n](`ok ${label(o)}`);
		});
		if (errors.some((e) => e)) process.exit(1);
	} else {
		console.error("usage: validate.mjs FILE... | --facts FILE | --data FILE CONFIGMAP KEY");
		process.exit(2);
	}
} catch (e) {
	console.log(`error: ${e.message}`);
	process.exit(1);
}
