// Dealroom's interactive API docs: renders /api/v1/openapi.json and lets a
// reader try each operation from the browser. No framework, no CDN.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
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

function resolve(doc, obj) {
  let seen = 0;
  while (obj && obj.$ref && seen++ < 20) {
    const parts = obj.$ref.replace(/^#\//, "").split("/");
    obj = parts.reduce((o, p) => (o ? o[p] : undefined), doc);
  }
  return obj || {};
}

// An example value for a schema, to prefill request bodies and show shapes.
function example(doc, schema, depth) {
  schema = resolve(doc, schema);
  if (depth > 6) return null;
  if (schema.example !== undefined) return schema.example;
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (schema.oneOf || schema.anyOf) {
    const alt = (schema.oneOf || schema.anyOf).find((s) => resolve(doc, s).type !== "null");
    return alt ? example(doc, alt, depth + 1) : null;
  }
  switch (type) {
    case "object": {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties || {})) out[k] = example(doc, v, depth + 1);
      return out;
    }
    case "array":
      return [example(doc, schema.items || {}, depth + 1)];
    case "integer":
    case "number":
      return schema.minimum !== undefined ? schema.minimum : 0;
    case "boolean":
      return false;
    case "null":
      return null;
    case "string":
      if (schema.format === "uuid") return "00000000-0000-7000-8000-000000000000";
      if (schema.format === "date-time") return "2026-11-24T00:13:22.123Z";
      return "string";
    default:
      return null;
  }
}

function parametersTable(doc, params) {
  if (!params.length) return null;
  return el("table", {},
    el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "description")),
    params.map((p) => {
      const s = resolve(doc, p.schema || {});
      const type = [].concat(s.type || "").join(" | ") + (s.format ? ` (${s.format})` : "");
      return el("tr", {}, el("td", {}, p.name + (p.required ? " *" : "")), el("td", {}, p.in), el("td", {}, type), el("td", {}, prose(p.description)));
    }));
}

function responsesTable(doc, responses) {
  return el("table", {},
    el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning")),
    Object.entries(responses || {}).map(([status, r]) => {
      const res = resolve(doc, r);
      return el("tr", {}, el("td", {}, status), el("td", {}, prose(res.description)));
    }));
}

function tryIt(doc, path, method, op, params) {
  const box = el("div", { class: "try" });
  const inputs = {};
  for (const p of params.filter((p) => p.in === "path" || p.in === "query")) {
    inputs[p.name] = el("input", { placeholder: `${p.in} ${p.name}` });
    box.append(el("div", {}, el("label", {}, `${p.name} `, inputs[p.name])));
  }
  let body = null;
  const content = op.requestBody && resolve(doc, op.requestBody).content;
  if (content && content["application/json"]) {
    body = el("textarea", {});
    body.value = JSON.stringify(example(doc, content["application/json"].schema, 0), null, 2);
    box.append(el("h4", {}, "Body"), body);
  }
  const send = el("button", { type: "button" }, "Send");
  const out = el("div", {});
  send.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const p of params) {
      const v = inputs[p.name] && inputs[p.name].value;
      if (!v) continue;
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(v));
      else query.append(p.name, v);
    }
    if ([...query].length) url += `?${query}`;
    const headers = { Accept: "application/json" };
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method: method.toUpperCase(), headers };
    if (body) {
      headers["Content-Type"] = "application/json";
      init.body = body.value;
    }
    out.replaceChildren(el("p", {}, "…"));
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      out.replaceChildren(
        el("p", {}, el("span", { class: "status" }, `${res.status} ${res.statusText}`), `  request id ${res.headers.get("x-request-id") || "-"}`),
        el("pre", {}, shown));
    } catch (e) {
      out.replaceChildren(el("p", {}, `request failed: ${e}`));
    }
  });
  box.append(send, out);
  return box;
}

function operation(doc, path, method, op, inherited) {
  const params = [...(inherited || []), ...(op.parameters || [])].map((p) => resolve(doc, p));
  const secured = (op.security || []).length > 0;
  const details = el("details", { class: "op", id: `${method}-${path}` });
  details.dataset.search = `${path} ${(op.tags || []).join(" ")} ${plain(op.summary)}`.toLowerCase();
  details.append(el("summary", {},
    el("span", { class: `method ${method}` }, method),
    el("span", { class: "path" }, path),
    secured ? el("span", { class: "lock", title: "needs a bearer token" }, "bearer") : null,
    el("span", { class: "summary" }, prose(op.summary))));
  const inner = el("div", { class: "body" });
  if (op.description) inner.append(el("p", {}, prose(op.description)));
  const table = parametersTable(doc, params);
  if (table) inner.append(el("h4", {}, "Parameters"), table);
  const content = op.requestBody && resolve(doc, op.requestBody).content;
  if (content && content["application/json"]) {
    inner.append(el("h4", {}, "Request body"), el("pre", {}, JSON.stringify(example(doc, content["application/json"].schema, 0), null, 2)));
  }
  inner.append(el("h4", {}, "Responses"), responsesTable(doc, op.responses));
  const ok = Object.entries(op.responses || {}).find(([s]) => s.startsWith("2"));
  const okContent = ok && resolve(doc, ok[1]).content;
  if (okContent && okContent["application/json"] && okContent["application/json"].schema) {
    inner.append(el("h4", {}, `Example ${ok[0]} body`), el("pre", {}, JSON.stringify(example(doc, okContent["application/json"].schema, 0), null, 2)));
  }
  inner.append(el("h4", {}, "Try it"), tryIt(doc, path, method, op, params));
  details.append(inner);
  return details;
}

function render(doc) {
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("description").replaceChildren(...prose(doc.info.description));
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
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
