// check.mjs OPENAPI API_C LM_C RECORDS_DIR [NAME...]: the contract of `kassa serve`.
//
// 1. docs/openapi.yaml is a valid OpenAPI 3.1 document
//    (@seriousme/openapi-schema-validator, the OpenAPI Initiative's schemas).
// 2. Every route of pos/serve/api.c's and pos/serve/lm.c's tables is in the
//    document, on its port, with its method; and every operation of the
//    document is a route of the code (the pages excepted; an operation
//    marked x-kassa-pending is documented ahead of the branch that brings
//    it), so neither side can gain a route the other lacks.
// 3. Every exchange the API tests recorded (RECORDS_DIR/NAME.jsonl for each
//    NAME given, each required and not empty; without NAMEs every *.jsonl
//    there; written when KASSA_CONTRACT_RECORD is set by
//    tests/integration/shop.py's exchange() and RecordingProxy (the docs'
//    curl lines), test_api.py, tests/browser/run.py and pages.js) matches
//    the document: the path and method
//    an operation's, the status one it declares (or its 4XX / default), a
//    JSON body valid against the declared schema (JSON Schema 2020-12, ajv).
//    An exchange with a path the document lacks must be the port's 404/405
//    in the port's error shape.
// Prints what failed and "N passed, N failed"; exit 1 on any failure.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const [specPath, apiC, lmC, recordsDir, ...recordings] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL ${name} ${detail === undefined ? "" : JSON.stringify(detail).slice(0, 1500)}`);
  }
  return ok;
}

// ---- 1. the document ------------------------------------------------------------
const validator = new Validator();
const result = await validator.validate(specPath);
check("openapi.yaml is valid OpenAPI " + validator.version, result.valid && validator.version === "3.1",
  result.errors);
const spec = YAML.parse(readFileSync(specPath, "utf8"), { maxAliasCount: -1 });

const LM_PORT = "5995";
function portOf(item) {
  const servers = item.servers || spec.servers;
  return new URL(servers[0].url).port === LM_PORT ? "lm" : "api";
}
const METHODS = ["get", "post", "put", "delete", "patch"];
const paths = Object.entries(absolute(spec).paths).map(([template, item]) => ({
  template, item, port: portOf(item),
  regex: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$"),
  concrete: !template.includes("{"),
}));

function findPath(port, path) {
  const candidates = paths.filter((p) => p.port === port && p.regex.test(path));
  return candidates.find((p) => p.concrete) || candidates[0];
}

// ---- 2. the routes of the code ----------------------------------------------------
function routesOf(file, table) {
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(table);
  const end = text.indexOf("};", start);
  const routes = [];
  for (const m of text.slice(start, end).matchAll(/\{"(GET|POST|PUT|DELETE)",\s*"(\/api\/[^"]*)"/g))
    routes.push({ method: m[1].toLowerCase(), path: m[2].replace(/\{n\}/g, "1").replace(/\{s\}/g, "x") });
  return routes;
}
const code = [
  ...routesOf(apiC, "static const route_t routes[]").map((r) => ({ ...r, port: "api" })),
  ...routesOf(lmC, "} lm_routes[]").map((r) => ({ ...r, port: "lm" })),
];
check("the route tables were read", code.length > 30, code.length);
for (const r of code) {
  const p = findPath(r.port, r.path);
  check(`route ${r.port} ${r.method.toUpperCase()} ${r.path} is documented`, p && p.item[r.method],
    p ? Object.keys(p.item) : null);
}
for (const p of paths) {
  if (!p.template.startsWith("/api/")) continue; // the pages
  for (const m of METHODS.filter((x) => p.item[x])) {
    const sample = p.template.replace(/\{[^}]+\}/g, (x) => (/^\{(id|fd)\}$/.test(x) ? "1" : "x"));
    const inCode = code.some((r) => r.port === p.port && r.method === m && r.path === sample);
    // x-kassa-pending: documented ahead of a branch that brings the route.
    if (p.item[m]["x-kassa-pending"]) {
      if (inCode) console.log(`note: ${m.toUpperCase()} ${p.template} is in the code now: drop its x-kassa-pending`);
      continue;
    }
    check(`operation ${m.toUpperCase()} ${p.template} is a route of the code`, inCode, sample);
  }
}

// ---- 3. the recorded answers --------------------------------------------------------
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
function absolute(node) {
  if (Array.isArray(node)) return node.map(absolute);
  if (node && typeof node === "object") {
    const out = {};
    for (const [k, v] of Object.entries(node))
      out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#") ? "openapi.json" + v : absolute(v);
    return out;
  }
  return node;
}
const absoluteSpec = absolute(spec);
ajv.addSchema({ $id: "openapi.json", $defs: {}, ...absoluteSpec }, "openapi.json");
const compiled = new Map();
function validatorFor(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
  return compiled.get(key);
}
function resolve(node) {
  while (node && node.$ref) {
    const pointer = node.$ref.replace(/^(openapi\.json)?#\//, "").split("/");
    node = pointer.reduce((o, k) => o[k], absoluteSpec);
  }
  return node;
}
const errorSchema = {
  api: { $ref: "openapi.json#/components/schemas/Error" },
  lm: { $ref: "openapi.json#/components/schemas/LmError" },
};

function checkBody(name, rec, response) {
  response = resolve(response);
  const content = response.content || {};
  const ctype = (rec.contentType || "").split(";")[0].trim();
  if (content["application/json"]) {
    if (!check(`${name}: JSON`, ctype === "application/json", rec.contentType)) return;
    const schema = content["application/json"].schema;
    if (!schema) return;
    const validate = validatorFor(schema);
    check(`${name}: body matches`, validate(rec.body), { errors: validate.errors?.slice(0, 4), body: rec.body });
    return;
  }
  check(`${name}: content type ${ctype} declared`, Object.keys(content).length === 0 || ctype in content,
    Object.keys(content));
}

let exchanges = 0;
const seen = new Set();
const files = recordings.length ? recordings.map((n) => `${n}.jsonl`)
  : readdirSync(recordsDir).filter((f) => f.endsWith(".jsonl"));
for (const file of files) {
  let text = "";
  try {
    text = readFileSync(join(recordsDir, file), "utf8");
  } catch (e) {
    check(`${file} was recorded`, false, String(e));
    continue;
  }
  check(`${file} holds answers`, text.trim() !== "");
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line);
    exchanges++;
    const name = `${file} ${rec.port} ${rec.method} ${rec.path} -> ${rec.status}`;
    const p = findPath(rec.port, rec.path);
    const op = p && p.item[rec.method.toLowerCase()];
    if (!op) {
      const page = rec.port === "api" && !rec.path.startsWith("/api/");
      if (page) {
        check(`${name}: a page's error is HTML`, rec.status >= 400 && rec.contentType.startsWith("text/html"), rec);
        continue;
      }
      if (check(`${name}: undocumented, so 404/405`, rec.status === 404 || rec.status === 405, rec.body)) {
        const validate = validatorFor(errorSchema[rec.port]);
        check(`${name}: in the port's error shape`, validate(rec.body), validate.errors);
      }
      continue;
    }
    seen.add(`${rec.method.toUpperCase()} ${p.template}`);
    const status = String(rec.status);
    const response = op.responses[status] || op.responses[status[0] + "XX"] || op.responses.default;
    if (!check(`${name}: status declared`, !!response, Object.keys(op.responses))) continue;
    checkBody(name, rec, response);
  }
}
check("answers were recorded", exchanges >= 200, exchanges);
const operations = paths.flatMap((p) => METHODS.filter((m) => p.item[m]).map((m) => `${m.toUpperCase()} ${p.template}`));
const unseen = operations.filter((o) => !seen.has(o));
console.log(`${exchanges} answers checked against ${operations.length} operations; never exercised: ${unseen.join(", ") || "none"}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
