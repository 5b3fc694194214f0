// Dealroom's interactive API docs: renders /api/v1/openapi.json and lets a
// reader try each operation from the browser. No framework, no CDN, nothing
// the page's Content-Security-Policy forbids: no inline script or handler, no
// eval, and no blob: image (img-src has none); requests go to this origin.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

// The document's prose as nodes: `inline code` in a <code>, everything else
// as text (never parsed as HTML, so the document cannot inject markup). A
// backtick without its pair stays a backtick.
function prose(text) {
  const parts = String(text || "").split("`");
  const out = [];
  parts.forEach((part, i) => {
    const closed = i % 2 === 1 && i < parts.length - 1;
    if (closed) out.push(el("code", {}, part));
    else if (i % 2 === 1) out.push(`\`${part}`);
    else if (part) out.push(part);
  });
  return out;
}

// The plain text of some prose, for the filter box.
function plain(text) {
  return String(text || "").replaceAll("`", "");
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// ---------------------------------------------------------------------------
// References and schemas

// What a local JSON pointer (`#/components/schemas/User`) points at.
function pointer(root, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#")) return undefined;
  const path = ref.slice(1);
  if (!path) return root;
  return path.split("/").slice(1)
    .map((p) => decodeURIComponent(p).replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((o, p) => (o !== null && typeof o === "object" ? o[p] : undefined), root);
}

// An object with its `$ref`s followed; the referring object's own keywords
// (a `description`, an `example`) win over the target's, as in OpenAPI 3.1.
function resolve(doc, obj) {
  let own = {};
  let seen = 0;
  while (obj && typeof obj === "object" && typeof obj.$ref === "string" && seen++ < 32) {
    const { $ref, ...rest } = obj;
    own = { ...rest, ...own };
    obj = pointer(doc, $ref);
  }
  return { ...(obj && typeof obj === "object" ? obj : {}), ...own };
}

// `allOf` as one schema: properties and `required` merged, the first of any
// other keyword kept.
function mergeAllOf(doc, schema, depth) {
  const { allOf, ...base } = schema;
  const out = { ...base, properties: { ...(base.properties || {}) }, required: [...(base.required || [])] };
  for (const part of allOf) {
    let p = resolve(doc, part);
    if (Array.isArray(p.allOf) && depth < 8) p = mergeAllOf(doc, p, depth + 1);
    for (const [k, v] of Object.entries(p)) {
      if (k === "properties") Object.assign(out.properties, v);
      else if (k === "required") out.required.push(...v);
      else if (out[k] === undefined) out[k] = v;
    }
  }
  if (!Object.keys(out.properties).length) delete out.properties;
  return out;
}

function typesOf(schema) {
  return [].concat(schema.type || []);
}

function isNullSchema(doc, schema) {
  const s = resolve(doc, schema);
  const types = typesOf(s);
  return (types.length === 1 && types[0] === "null") || s.const === null;
}

// Example values for a format, and for strings whose name says what they are.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
const ZERO_UUID = "00000000-0000-0000-0000-000000000000";
// A URL example: this page's own origin (docs.js names no other host, and a
// test holds it to that).
const EXAMPLE_URL = `${location.origin}/`;
const FORMATS = {
  email: "user@example.com",
  "idn-email": "user@example.com",
  uuid: ZERO_UUID,
  "date-time": NOW,
  date: NOW.slice(0, 10),
  time: NOW.slice(11),
  duration: "PT1M",
  uri: EXAMPLE_URL,
  url: EXAMPLE_URL,
  iri: EXAMPLE_URL,
  "uri-reference": EXAMPLE_URL,
  "iri-reference": EXAMPLE_URL,
  hostname: "example.com",
  "idn-hostname": "example.com",
  ipv4: "192.0.2.1",
  ipv6: "2001:db8::1",
  byte: "ZXhhbXBsZQ==",
  password: "correct-horse-battery",
};
const NAME_HINTS = [
  [/e-?mail$/i, "user@example.com"],
  [/phone$/i, "+1 555 0100"],
  [/(url|uri|website|homepage)$/i, EXAMPLE_URL],
  [/password$/i, "correct-horse-battery"],
  [/currency$/i, "EUR"],
];

function words(name) {
  return String(name).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase().trim();
}

// A string within the schema's lengths.
function fit(value, schema) {
  let s = value;
  if (typeof schema.minLength === "number" && s.length < schema.minLength) s += "x".repeat(schema.minLength - s.length);
  if (typeof schema.maxLength === "number" && s.length > schema.maxLength) s = s.slice(0, schema.maxLength);
  return s;
}

// A string the schema tells something about (its format, an "e.g. `EUR`" in
// its description, its name), or undefined.
function knownString(schema, name) {
  if (Object.hasOwn(FORMATS, schema.format)) return FORMATS[schema.format];
  if (schema.contentEncoding === "base64") return FORMATS.byte;
  const hinted = /\be\.g\.,?\s+`([^`]+)`/.exec(schema.description || "");
  if (hinted) return fit(hinted[1], schema);
  for (const [pattern, value] of NAME_HINTS) {
    if (name && pattern.test(name)) return fit(value, schema);
  }
  return undefined;
}

function stringExample(schema, name) {
  if (schema.format === "binary") return "";
  const known = knownString(schema, name);
  if (known !== undefined) return known;
  return fit(name ? `example ${words(name)}` : "example", schema);
}

function numberExample(schema, type) {
  let v = 0;
  if (typeof schema.minimum === "number") v = schema.minimum;
  else if (typeof schema.exclusiveMinimum === "number") v = type === "integer" ? Math.floor(schema.exclusiveMinimum) + 1 : schema.exclusiveMinimum + 1;
  else if (typeof schema.maximum === "number" && schema.maximum < 0) v = schema.maximum;
  else if (typeof schema.exclusiveMaximum === "number" && schema.exclusiveMaximum <= 0) v = schema.exclusiveMaximum - 1;
  if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) v = Math.ceil(v / schema.multipleOf) * schema.multipleOf;
  return type === "integer" ? Math.ceil(v) : v;
}

// An example value for a schema, to prefill request bodies and show shapes:
// the schema's own `examples`/`example`, `const`, `default` or first `enum`
// value; else one built from its type, format, name and bounds (`oneOf` and
// `anyOf`: the first branch that is not `null`).
function example(doc, raw, name, depth) {
  depth = depth || 0;
  if (raw === undefined || raw === null || raw === true || raw === false || depth > 8) return null;
  let s = resolve(doc, raw);
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) {
    const v = s.enum.find((x) => x !== null);
    return v === undefined ? null : v;
  }
  if (Array.isArray(s.allOf) && s.allOf.length) s = mergeAllOf(doc, s, 0);
  const alternatives = s.oneOf || s.anyOf;
  if (Array.isArray(alternatives) && alternatives.length) {
    const first = alternatives.find((a) => !isNullSchema(doc, a));
    return first ? example(doc, first, name, depth + 1) : null;
  }
  const types = typesOf(s);
  let type = types.find((t) => t !== "null");
  if (!type && (s.properties || (s.additionalProperties && typeof s.additionalProperties === "object"))) type = "object";
  if (!type && (s.items || s.prefixItems)) type = "array";
  switch (type) {
    case "object": {
      const out = {};
      for (const [k, v] of Object.entries(s.properties || {})) out[k] = example(doc, v, k, depth + 1);
      if (!s.properties && s.additionalProperties && typeof s.additionalProperties === "object") {
        out.key = example(doc, s.additionalProperties, "value", depth + 1);
      }
      return out;
    }
    case "array": {
      if (Array.isArray(s.prefixItems)) return s.prefixItems.map((p) => example(doc, p, name, depth + 1));
      if (s.maxItems === 0) return [];
      const n = Math.max(1, s.minItems || 0);
      const item = example(doc, s.items || {}, name, depth + 1);
      return Array.from({ length: n }, () => item);
    }
    case "integer":
    case "number":
      return numberExample(s, type);
    case "boolean":
      return true;
    case "string":
      return stringExample(s, name);
    default:
      return null;
  }
}

// A media type's example: its own `example` or first `examples` entry, else
// one from its schema.
function mediaExample(doc, media) {
  if (!media) return null;
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples || {})[0];
  if (first) {
    const ex = resolve(doc, first);
    if (ex.value !== undefined) return ex.value;
  }
  return example(doc, media.schema, null, 0);
}

function schemaText(doc, raw, depth) {
  const s = resolve(doc, raw || {});
  const alternatives = s.oneOf || s.anyOf;
  if (Array.isArray(alternatives) && (depth || 0) < 4) {
    return alternatives.map((a) => schemaText(doc, a, (depth || 0) + 1)).join(" | ");
  }
  let text = typesOf(s).join(" | ") || (s.properties ? "object" : "");
  if (s.format) text += ` (${s.format})`;
  if (Array.isArray(s.enum)) text += ` ${s.enum.map((v) => JSON.stringify(v)).join(" | ")}`;
  return text.trim() || "any";
}

// ---------------------------------------------------------------------------
// Security

// Whether an operation wants a bearer token: its `security`, else the
// document's. An empty requirement (`{}`) among others makes it optional; a
// public operation (`security: []`) sends no Authorization header at all.
function securityOf(doc, op) {
  const requirements = Array.isArray(op.security) ? op.security : doc.security || [];
  const needing = requirements.filter((r) => Object.keys(r || {}).length > 0);
  const schemes = (doc.components && doc.components.securitySchemes) || {};
  const names = [...new Set(needing.flatMap((r) => Object.keys(r)))];
  const bearer = names.some((n) => {
    const s = resolve(doc, schemes[n]);
    return s.type === "http" && String(s.scheme || "").toLowerCase() === "bearer";
  });
  return {
    secured: needing.length > 0,
    optional: needing.length > 0 && needing.length < requirements.length,
    bearer,
    names,
  };
}

function token() {
  return document.getElementById("token").value.trim();
}

// ---------------------------------------------------------------------------
// Static parts of an operation

function parametersTable(doc, params) {
  if (!params.length) return null;
  return el("table", {},
    el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "description")),
    params.map((p) => el("tr", {},
      el("td", {}, p.name + (p.required ? " *" : "")),
      el("td", {}, p.in),
      el("td", {}, schemaText(doc, p.schema)),
      el("td", {}, prose(p.description)))));
}

// Exactly the responses the document gives for the operation.
function responsesTable(doc, responses) {
  return el("table", {},
    el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"), el("th", {}, "content")),
    Object.entries(responses || {}).map(([status, r]) => {
      const res = resolve(doc, r);
      return el("tr", {},
        el("td", {}, status),
        el("td", {}, prose(res.description)),
        el("td", {}, Object.keys(res.content || {}).join(", ")));
    }));
}

// The parts of a multipart or form body: each property of its schema, a file
// for binary ones.
function formParts(doc, media) {
  const schema = resolve(doc, media.schema || {});
  const s = Array.isArray(schema.allOf) ? mergeAllOf(doc, schema, 0) : schema;
  const required = new Set(s.required || []);
  return Object.entries(s.properties || {}).map(([name, raw]) => {
    const p = resolve(doc, raw);
    const item = typesOf(p).includes("array") ? resolve(doc, p.items || {}) : null;
    const binaryOf = (x) => x.format === "binary" || x.format === "base64" || x.contentMediaType !== undefined
      || x.contentEncoding !== undefined;
    const encoding = (media.encoding || {})[name] || {};
    const encodedAsFile = encoding.contentType && !/^text\/|json/.test(encoding.contentType);
    return {
      name,
      schema: p,
      required: required.has(name),
      file: binaryOf(p) || (item !== null && binaryOf(item)) || Boolean(encodedAsFile),
      multiple: item !== null,
      accept: encoding.contentType || p.contentMediaType || (item && item.contentMediaType) || null,
    };
  });
}

function partsTable(doc, parts) {
  return el("table", {},
    el("tr", {}, el("th", {}, "part"), el("th", {}, "type"), el("th", {}, "description")),
    parts.map((p) => el("tr", {},
      el("td", {}, p.name + (p.required ? " *" : "")),
      el("td", {}, p.file ? `file${p.multiple ? "s" : ""}` : schemaText(doc, p.schema)),
      el("td", {}, prose(p.schema.description)))));
}

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;
const FORM_TYPES = ["multipart/form-data", "application/x-www-form-urlencoded"];

// The request body's media types, JSON first.
function bodyTypes(content) {
  const types = Object.keys(content || {});
  const rank = (t) => (JSON_TYPE.test(t) ? 0 : FORM_TYPES.includes(t) ? 1 : 2);
  return types.sort((a, b) => rank(a) - rank(b));
}

// ---------------------------------------------------------------------------
// Try it

// Operations by operationId, so that a response's `links` can fill the
// parameters of the operations they lead to.
const registry = new Map();

function paramInput(doc, p) {
  const s = resolve(doc, p.schema || {});
  const choices = Array.isArray(s.enum) ? s.enum.filter((v) => v !== null)
    : typesOf(s).includes("boolean") ? [true, false] : null;
  if (choices) {
    return el("select", { name: p.name },
      el("option", { value: "" }, p.required ? "(choose)" : "(not sent)"),
      choices.map((v) => el("option", { value: String(v) }, String(v))));
  }
  // The placeholder: an example the document gives or implies, else the type.
  let hint = p.example !== undefined ? p.example : Object.values(p.examples || {}).map((e) => resolve(doc, e).value)[0];
  if (hint === undefined) {
    const described = { ...s, description: s.description || p.description };
    const types = typesOf(s);
    const plainString = types.includes("string") && !(Array.isArray(s.examples) && s.examples.length)
      && s.example === undefined && s.default === undefined;
    hint = plainString ? knownString(described, p.name) : example(doc, described, p.name, 0);
  }
  const placeholder = hint === null || hint === undefined || hint === "" ? schemaText(doc, s)
    : typeof hint === "string" ? hint : JSON.stringify(hint);
  return el("input", { name: p.name, placeholder: `${placeholder}${p.required ? "" : " (optional)"}` });
}

function bodyEditor(doc, content) {
  const types = bodyTypes(content);
  if (!types.length) return null;
  const wrap = el("div", { class: "body-editor" });
  const select = types.length > 1 ? el("select", {}, types.map((t) => el("option", { value: t }, t))) : null;
  const area = el("div", {});
  const editor = { type: types[0], fields: [], area: null, file: null };
  const build = () => {
    editor.type = select ? select.value : types[0];
    const media = content[editor.type] || {};
    editor.fields = [];
    editor.area = null;
    editor.file = null;
    if (FORM_TYPES.includes(editor.type)) {
      const rows = formParts(doc, media).map((part) => {
        let input;
        if (part.file) {
          input = el("input", { type: "file", name: part.name, multiple: part.multiple, accept: part.accept });
        } else {
          input = el("input", { name: part.name });
          const v = example(doc, part.schema, part.name, 0);
          input.value = v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
        }
        editor.fields.push({ part, input });
        return el("div", { class: "row" }, el("label", {}, el("span", { class: "pname" }, `${part.name}${part.required ? " *" : ""}`),
          el("span", { class: "pin" }, part.file ? "file" : "field"), input));
      });
      area.replaceChildren(...rows);
    } else if (JSON_TYPE.test(editor.type) || /^text\//.test(editor.type) || /xml/.test(editor.type)) {
      editor.area = el("textarea", { spellcheck: "false" });
      const v = mediaExample(doc, media);
      editor.area.value = JSON_TYPE.test(editor.type) ? pretty(v) : typeof v === "string" ? v : "";
      area.replaceChildren(editor.area);
    } else {
      editor.file = el("input", { type: "file" });
      area.replaceChildren(el("label", {}, "file ", editor.file));
    }
  };
  if (select) select.addEventListener("change", build);
  build();
  wrap.append(el("div", { class: "row" }, el("label", {}, el("span", { class: "pname" }, "Content-Type"), select || el("code", {}, types[0]))), area);
  editor.node = wrap;
  return editor;
}

// What the editor holds as a fetch body, and the Content-Type to send (none
// for FormData: the browser writes it, with the boundary).
function bodyOf(editor) {
  if (editor.type === "multipart/form-data") {
    const form = new FormData();
    for (const { part, input } of editor.fields) {
      if (part.file) for (const f of input.files) form.append(part.name, f, f.name);
      else if (input.value !== "") form.append(part.name, input.value);
    }
    return { body: form, type: null };
  }
  if (editor.type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams();
    for (const { part, input } of editor.fields) {
      if (!part.file && input.value !== "") form.append(part.name, input.value);
    }
    return { body: form, type: editor.type };
  }
  if (editor.area) return { body: editor.area.value, type: editor.type };
  const f = editor.file.files[0];
  return { body: f || new Blob([]), type: editor.type.includes("*") ? (f && f.type) || "application/octet-stream" : editor.type };
}

function fileName(disposition) {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (star) {
    try { return decodeURIComponent(star[1].trim()); } catch (_) { /* fall through */ }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(disposition);
  if (quoted) return quoted[1].replace(/\\(.)/g, "$1");
  const bare = /filename\s*=\s*([^;]+)/.exec(disposition);
  return bare ? bare[1].trim() : null;
}

function size(n) {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n;
  let i = -1;
  do { v /= 1024; i += 1; } while (v >= 1024 && i < units.length - 1);
  return `${n} bytes (${v.toFixed(1)} ${units[i]})`;
}

// The first string under `key` anywhere in a value (the accessToken of a
// register or login answer).
function findKey(value, key, depth) {
  if (!value || typeof value !== "object" || (depth || 0) > 6) return null;
  if (typeof value[key] === "string") return value[key];
  for (const v of Object.values(value)) {
    const found = findKey(v, key, (depth || 0) + 1);
    if (found) return found;
  }
  return null;
}

// Follows the documented `links` of the response: `$response.body#/...` and
// `$response.header.X` values fill the linked operations' parameters (those
// that are empty, or that a link filled before).
function followLinks(doc, op, status, res, body) {
  const r = (op.responses || {})[String(status)] || (op.responses || {})[`${String(status)[0]}XX`] || (op.responses || {}).default;
  const links = Object.values(resolve(doc, r).links || {}).map((l) => resolve(doc, l));
  const filled = [];
  for (const link of links) {
    const target = registry.get(link.operationId);
    if (!target) continue;
    let used = false;
    for (const [qualified, expr] of Object.entries(link.parameters || {})) {
      const name = qualified.replace(/^(path|query|header|cookie)\./, "");
      let value;
      if (typeof expr !== "string") value = expr;
      else if (expr.startsWith("$response.body#")) value = pointer(body, expr.slice("$response.body".length));
      else if (expr.startsWith("$response.header.")) value = res.headers.get(expr.slice("$response.header.".length));
      else continue;
      const input = target.inputs.get(name);
      if (value === undefined || value === null || !input) continue;
      if (input.value !== "" && input.dataset.linked !== "1") continue;
      input.value = typeof value === "string" ? value : JSON.stringify(value);
      input.dataset.linked = "1";
      used = true;
    }
    if (used) filled.push(target);
  }
  if (!filled.length) return null;
  return el("p", { class: "hint" }, "Filled from this answer (the document's links): ",
    filled.flatMap((t, i) => [i ? ", " : "", el("a", { href: `#${t.anchor}` }, `${t.method.toUpperCase()} ${t.path}`)]));
}

// An event stream read as it arrives (fetch, so the Authorization header goes
// too; EventSource cannot send it). Blocks are parsed as the HTML standard
// says; each shows when it is complete, comments (heartbeats) too.
async function streamView(res, out, state) {
  const info = el("p", { class: "hint" }, "Connected; waiting for events…");
  const log = el("ol", { class: "events" });
  out.append(info, log);
  let count = 0;
  let lastId = null;
  let block = { event: "", data: [], id: null, retry: null, any: false };
  const add = (node) => {
    log.append(node);
    while (log.childElementCount > 500) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  };
  const time = () => new Date().toLocaleTimeString();
  const dispatch = () => {
    if (!block.any) return;
    const data = block.data.join("\n");
    let shown = data;
    try { shown = pretty(JSON.parse(data)); } catch (_) { /* not JSON */ }
    // A block without data dispatches no event; its id still counts.
    const name = block.event || (block.data.length ? "message" : block.id !== null ? "(id only)" : "(no data)");
    if (block.data.length) count += 1;
    const meta = [block.id !== null ? `id ${block.id}` : null, block.retry !== null ? `retry ${block.retry} ms` : null, time()]
      .filter(Boolean).join(" · ");
    add(el("li", { class: "event" }, el("span", { class: "ev-name" }, name), el("span", { class: "ev-meta" }, meta),
      block.data.length ? el("pre", {}, shown) : null));
    block = { event: "", data: [], id: null, retry: null, any: false };
    info.textContent = `Live: ${count} event${count === 1 ? "" : "s"}${lastId !== null ? `, last id ${lastId}` : ""}.`;
  };
  const line = (l) => {
    if (l === "") return dispatch();
    if (l.startsWith(":")) {
      add(el("li", { class: "comment" }, `:${l.slice(1)}`, el("span", { class: "ev-meta" }, time())));
      return undefined;
    }
    const colon = l.indexOf(":");
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? "" : l.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") block.event = value;
    else if (field === "data") block.data.push(value);
    else if (field === "id" && !value.includes("\0")) { block.id = value; lastId = value; }
    else if (field === "retry" && /^\d+$/.test(value)) block.retry = value;
    else return undefined;
    block.any = true;
    return undefined;
  };
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ended = "The server ended the stream";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      // A chunk may end between the \r and \n of one line break.
      let hold = "";
      if (buf.endsWith("\r")) { hold = "\r"; buf = buf.slice(0, -1); }
      const lines = buf.split(/\r\n|\r|\n/);
      buf = lines.pop() + hold;
      lines.forEach(line);
    }
  } catch (e) {
    ended = state.controller.signal.aborted ? "Stopped" : `The stream failed (${e.message || e})`;
  }
  const resume = lastId !== null ? `; the last id was ${lastId} (send it as Last-Event-ID to resume after it)` : "";
  info.textContent = `${ended} after ${count} event${count === 1 ? "" : "s"}${resume}.`;
}

async function binaryView(res, out, state) {
  const blob = await res.blob();
  const type = res.headers.get("content-type") || blob.type || "unknown type";
  const name = fileName(res.headers.get("content-disposition")) || "download";
  const range = res.headers.get("content-range");
  // No <img>: the page's img-src does not allow blob: URLs. A link may point
  // at one.
  state.objectUrl = URL.createObjectURL(blob);
  out.append(
    el("p", { class: "binary" }, `${size(blob.size)} of ${type}`, range ? `, ${range}` : ""),
    el("p", {}, el("a", { href: state.objectUrl, download: name, class: "download" }, `Save ${name}`)));
}

async function jsonView(doc, op, res, out) {
  const text = await res.text();
  let value;
  let shown = text;
  try { value = JSON.parse(text); shown = pretty(value); } catch (_) { /* not JSON after all */ }
  out.append(el("pre", {}, shown));
  if (value === undefined) return;
  const access = res.ok ? findKey(value, "accessToken") : null;
  if (access) {
    const use = el("button", { type: "button", class: "secondary" }, "Use this accessToken");
    use.addEventListener("click", () => {
      document.getElementById("token").value = access;
      use.textContent = "Access token set";
      use.disabled = true;
    });
    out.append(el("p", {}, use));
  }
  const links = res.ok ? followLinks(doc, op, res.status, res, value) : null;
  if (links) out.append(links);
}

function tryIt(doc, path, method, op, params, security, anchor) {
  const box = el("div", { class: "try" });
  const inputs = new Map();
  const usable = params.filter((p) => p.in !== "cookie");
  if (security.secured) {
    box.append(el("p", { class: "auth" }, security.bearer
      ? ["Sends ", el("code", {}, "Authorization: Bearer"), " with the access token at the top of the page",
        security.optional ? " (optional here: this operation also works without one)." : "."]
      : `Needs ${security.names.join(", ")}, which this page cannot send.`));
  }
  if (usable.length) {
    const rows = usable.map((p) => {
      const input = paramInput(doc, p);
      // A value a link filled in is the reader's once they edit it.
      input.addEventListener("input", () => { delete input.dataset.linked; });
      inputs.set(p.name, input);
      return el("div", { class: "row" }, el("label", {},
        el("span", { class: "pname" }, `${p.name}${p.required ? " *" : ""}`), el("span", { class: "pin" }, p.in), input));
    });
    box.append(el("div", { class: "params" }, rows));
  }
  if (params.some((p) => p.in === "cookie")) box.append(el("p", { class: "hint" }, "Cookie parameters come from the browser's cookies."));
  const requestBody = op.requestBody && resolve(doc, op.requestBody);
  const editor = requestBody ? bodyEditor(doc, requestBody.content) : null;
  if (editor) box.append(el("h4", {}, `Body${requestBody.required ? " *" : ""}`), editor.node);

  const responseTypes = [...new Set(Object.values(op.responses || {}).flatMap((r) => Object.keys(resolve(doc, r).content || {})))];
  const send = el("button", { type: "button", class: "send" }, "Send");
  const stop = el("button", { type: "button", class: "stop", hidden: true }, "Stop");
  const out = el("div", { class: "out" });
  const state = { controller: null, objectUrl: null };
  stop.addEventListener("click", () => {
    if (state.controller) state.controller.abort();
  });
  send.addEventListener("click", async () => {
    if (state.objectUrl) { URL.revokeObjectURL(state.objectUrl); state.objectUrl = null; }
    const base = ((doc.servers || [])[0] || {}).url || "";
    let url = base.startsWith("/") ? base.replace(/\/+$/, "") + path : path;
    const query = new URLSearchParams();
    const headers = {};
    const missing = [];
    for (const p of usable) {
      const v = inputs.get(p.name).value;
      if (v === "") {
        if (p.required) missing.push(p.name);
        continue;
      }
      if (p.in === "path") url = url.replaceAll(`{${p.name}}`, encodeURIComponent(v));
      else if (p.in === "query") query.append(p.name, v);
      else if (p.in === "header") headers[p.name] = v;
    }
    if (missing.length) {
      out.replaceChildren(el("p", { class: "error" }, `Fill in ${missing.join(", ")} first.`));
      return;
    }
    if ([...query].length) url += `?${query}`;
    if (responseTypes.length) headers.Accept = responseTypes.join(", ");
    const notes = [];
    if (security.secured && security.bearer) {
      if (token()) headers.Authorization = `Bearer ${token()}`;
      else if (!security.optional) notes.push("No access token set: sent without Authorization.");
    }
    const init = { method: method.toUpperCase(), headers, cache: "no-store" };
    if (editor) {
      const { body, type } = bodyOf(editor);
      init.body = body;
      if (type) headers["Content-Type"] = type;
    }
    state.controller = new AbortController();
    init.signal = state.controller.signal;
    send.disabled = true;
    stop.hidden = false;
    out.replaceChildren(el("p", {}, `${init.method} ${url} …`));
    const started = performance.now();
    try {
      const res = await fetch(url, init);
      const ms = Math.round(performance.now() - started);
      const type = res.headers.get("content-type") || "";
      const headerRows = [...res.headers].map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)));
      out.replaceChildren(
        el("p", {}, el("span", { class: `status s${String(res.status)[0]}` }, `${res.status} ${res.statusText}`),
          `  ${ms} ms · request id ${res.headers.get("x-request-id") || "-"}`),
        ...(notes.length ? [el("p", { class: "hint" }, notes.join(" "))] : []),
        el("details", { class: "headers" }, el("summary", {}, "Response headers"), el("table", {}, headerRows)));
      if (res.body === null || init.method === "HEAD" || res.status === 204 || res.status === 304) {
        out.append(el("p", { class: "hint" }, "No body."));
      } else if (/^text\/event-stream/i.test(type)) {
        await streamView(res, out, state);
      } else if (JSON_TYPE.test(type)) {
        await jsonView(doc, op, res, out);
      } else if (/^text\/|xml|javascript|ecmascript/i.test(type)) {
        const text = await res.text();
        out.append(el("pre", {}, text.length > 200000 ? `${text.slice(0, 200000)}\n… (${text.length} characters in all)` : text));
      } else {
        await binaryView(res, out, state);
      }
    } catch (e) {
      const aborted = state.controller.signal.aborted;
      out.append(el("p", { class: "error" }, aborted ? "Stopped." : `Request failed: ${e.message || e}`));
    } finally {
      send.disabled = false;
      stop.hidden = true;
      state.controller = null;
    }
  });
  box.append(el("div", { class: "actions" }, send, stop), out);
  if (op.operationId) registry.set(op.operationId, { inputs, path, method, anchor });
  return box;
}

// ---------------------------------------------------------------------------
// The page

function operation(doc, path, method, op, inherited) {
  // Operation parameters override the path item's of the same name and place.
  const own = (op.parameters || []).map((p) => resolve(doc, p));
  const params = [...(inherited || []).map((p) => resolve(doc, p))
    .filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)), ...own];
  const security = securityOf(doc, op);
  const anchor = `${method}-${path}`;
  const details = el("details", { class: "op", id: anchor });
  details.dataset.search = `${path} ${(op.tags || []).join(" ")} ${plain(op.summary)} ${op.operationId || ""}`.toLowerCase();
  details.append(el("summary", {},
    el("span", { class: `method ${method}` }, method),
    el("span", { class: "path" }, path),
    security.secured ? el("span", { class: "lock", title: "needs a bearer token" }, security.optional ? "bearer (optional)" : "bearer") : null,
    el("span", { class: "summary" }, prose(op.summary))));
  const inner = el("div", { class: "body" });
  if (op.description) inner.append(el("p", {}, prose(op.description)));
  const table = parametersTable(doc, params);
  if (table) inner.append(el("h4", {}, "Parameters"), table);
  const content = op.requestBody && resolve(doc, op.requestBody).content;
  for (const type of bodyTypes(content)) {
    const media = content[type];
    if (JSON_TYPE.test(type)) {
      inner.append(el("h4", {}, "Request body ", el("code", {}, type)), el("pre", {}, pretty(mediaExample(doc, media))));
    } else if (FORM_TYPES.includes(type)) {
      inner.append(el("h4", {}, "Request body ", el("code", {}, type)), partsTable(doc, formParts(doc, media)));
    } else {
      inner.append(el("h4", {}, "Request body ", el("code", {}, type)));
    }
  }
  inner.append(el("h4", {}, "Responses"), responsesTable(doc, op.responses));
  const ok = Object.entries(op.responses || {}).find(([s]) => s.startsWith("2"));
  const okContent = ok && resolve(doc, ok[1]).content;
  const okJson = okContent && Object.keys(okContent).find((t) => JSON_TYPE.test(t));
  if (okJson && (okContent[okJson].schema || okContent[okJson].example !== undefined)) {
    inner.append(el("h4", {}, `Example ${ok[0]} body`), el("pre", {}, pretty(mediaExample(doc, okContent[okJson]))));
  }
  inner.append(el("h4", {}, "Try it"), tryIt(doc, path, method, op, params, security, anchor));
  details.append(inner);
  return details;
}

function render(doc) {
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("description").replaceChildren(...prose(doc.info.description));
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, rawItem] of Object.entries(doc.paths || {})) {
    const item = resolve(doc, rawItem);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
      byTag.get(tag).ops.push(operation(doc, path, method, op, item.parameters));
    }
  }
  const main = document.getElementById("operations");
  main.replaceChildren();
  for (const { tag, ops } of byTag.values()) {
    if (!ops.length) continue;
    const section = el("section", {}, el("h2", {}, tag.name, tag.description ? el("small", {}, prose(tag.description)) : null), ops);
    main.append(section);
  }
  show(location.hash);
  window.addEventListener("hashchange", () => show(location.hash));
  document.getElementById("filter").addEventListener("input", (e) => {
    const q = e.target.value.toLowerCase();
    for (const d of main.querySelectorAll("details.op")) d.hidden = q && !d.dataset.search.includes(q);
  });
}

// A link to `/docs#post-/api/v1/sessions` opens that operation and puts it at
// the top of the window. The browser looked for the anchor before the
// operations existed, so this is done once they are rendered (and again when
// the hash changes).
function show(hash) {
  let id = hash.slice(1);
  try { id = decodeURIComponent(id); } catch (_) { /* a malformed escape: use it as is */ }
  const target = id && document.getElementById(id);
  if (!target || !target.classList.contains("op")) return;
  target.hidden = false;
  target.open = true;
  // Room below, so that even the last operation can reach the top.
  const top = target.getBoundingClientRect().top + window.scrollY;
  document.documentElement.style.minHeight = `${Math.ceil(top + window.innerHeight)}px`;
  target.scrollIntoView({ block: "start" });
}

fetch("/api/v1/openapi.json")
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
  .then(render)
  .catch((e) => {
    document.getElementById("operations").replaceChildren(el("p", {}, `Cannot load the OpenAPI document: ${e.message}`));
  });
