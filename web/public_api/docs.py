"""`/api/v1/docs`: the OpenAPI document as a web page. Self-contained: the document is embedded
and a small inline script renders it (no CDN, nothing fetched when the page opens)."""

from __future__ import annotations

import json
from typing import Any

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loyalty public API</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         color: #202223; background: #f6f6f7; }
  header { background: #1a1c1d; color: #fff; padding: 20px 32px; }
  header h1 { margin: 0; font-size: 22px; }
  header p { margin: 4px 0 0; color: #c9cccf; }
  main { display: grid; grid-template-columns: 260px minmax(0, 1fr); gap: 24px;
         padding: 24px 32px; }
  p code, td code { overflow-wrap: anywhere; }
  nav { position: sticky; top: 16px; align-self: start; font-size: 14px; }
  nav h3 { margin: 16px 0 4px; font-size: 13px; text-transform: uppercase; color: #6d7175; }
  nav a { display: block; color: #202223; text-decoration: none; padding: 2px 0; }
  nav a:hover { text-decoration: underline; }
  section.intro, article { background: #fff; border-radius: 8px; padding: 16px 24px;
                           margin-bottom: 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  article h2 { font-size: 17px; margin: 0 0 8px; font-family: ui-monospace, monospace; }
  .method { display: inline-block; min-width: 52px; text-align: center; border-radius: 4px;
            color: #fff; font-size: 12px; padding: 2px 6px; margin-right: 8px; }
  .get { background: #2c6ecb; } .post { background: #008060; } .put { background: #b98900; }
  .delete { background: #d72c0d; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 8px 0; }
  th, td { text-align: left; border-bottom: 1px solid #e1e3e5; padding: 4px 8px;
           vertical-align: top; }
  code, .schema { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
  .schema { background: #f6f6f7; border-radius: 6px; padding: 8px 12px; white-space: pre;
            overflow-x: auto; }
  details { margin: 4px 0; } summary { cursor: pointer; }
  h4 { margin: 12px 0 4px; font-size: 14px; }
  .muted { color: #6d7175; }
</style>
</head>
<body>
<header><h1 id="title"></h1><p id="subtitle"></p></header>
<main><nav id="nav"></nav><div id="content"></div></main>
<script id="openapi" type="application/json">__DOCUMENT__</script>
<script>
(function () {
  "use strict";
  var doc = JSON.parse(document.getElementById("openapi").textContent);
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  // Inline markdown: `code` and **bold** only; everything else is text.
  function inline(text) {
    var span = el("span");
    String(text || "").split(/(`[^`]+`|\\*\\*[^*]+\\*\\*)/).forEach(function (part) {
      if (/^`[^`]+`$/.test(part)) span.appendChild(el("code", {}, [part.slice(1, -1)]));
      else if (/^\\*\\*[^*]+\\*\\*$/.test(part)) {
        span.appendChild(el("strong", {}, [part.slice(2, -2)]));
      }
      else if (part) span.appendChild(document.createTextNode(part));
    });
    return span;
  }
  function paragraphs(text) {
    var box = el("div");
    String(text || "").split(/\\n\\s*\\n/).forEach(function (p) {
      if (p.trim()) box.appendChild(el("p", {}, [inline(p.replace(/\\n/g, " "))]));
    });
    return box;
  }
  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 20) {
      schema = doc.components.schemas[schema.$ref.split("/").pop()];
    }
    return schema || {};
  }
  function typeName(schema) {
    if (!schema) return "any";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.anyOf) return schema.anyOf.map(typeName).join(" | ");
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ");
    if (schema.type === "array") return typeName(schema.items) + "[]";
    return schema.type || "any";
  }
  // A schema as an indented outline, following $refs (each one once per branch).
  function outline(schema, indent, trail) {
    var lines = [];
    var real = resolve(schema);
    var name = schema && schema.$ref ? schema.$ref.split("/").pop() : null;
    if (name && trail.indexOf(name) >= 0) return lines;
    var next = name ? trail.concat([name]) : trail;
    if (real.anyOf) {
      real.anyOf.forEach(function (option) {
        var bare = option.required && !option.type && !option.properties;
        if (option.type === "null" || bare) return;
        lines = lines.concat(outline(option, indent, next));
      });
      return lines;
    }
    if (real.type === "array" && real.items) return outline(real.items, indent, next);
    var props = real.properties || {};
    var required = real.required || [];
    Object.keys(props).forEach(function (key) {
      var prop = props[key];
      var note = required.indexOf(key) >= 0 ? "" : " (optional)";
      var extra = [];
      var base = resolve(prop);
      ["minimum", "maximum", "maxLength", "pattern", "default"].forEach(function (k) {
        if (base[k] !== undefined) extra.push(k + " " + JSON.stringify(base[k]));
      });
      var desc = prop.description || base.description || "";
      lines.push(indent + key + ": " + typeName(prop) + note +
                 (extra.length ? "  [" + extra.join(", ") + "]" : "") +
                 (desc ? "  — " + desc : ""));
      var inner = prop.anyOf ?
        prop.anyOf.filter(function (o) { return o.type !== "null"; })[0] : prop;
      var innerReal = resolve(inner);
      if (innerReal.properties || (innerReal.type === "array" && innerReal.items &&
          resolve(innerReal.items).properties)) {
        lines = lines.concat(outline(inner, indent + "  ", next));
      }
    });
    return lines;
  }
  function schemaBlock(schema) {
    var text = outline(schema, "", []).join("\\n");
    return el("div", {"class": "schema"}, [text || typeName(schema)]);
  }
  document.getElementById("title").textContent = doc.info.title + " v" + doc.info.version;
  document.getElementById("subtitle").textContent =
    "OpenAPI " + doc.openapi + " · base path " + doc.servers[0].url + " · /api/v1/openapi.json";
  var nav = document.getElementById("nav");
  var content = document.getElementById("content");
  content.appendChild(el("section", {"class": "intro"}, [paragraphs(doc.info.description)]));
  var byTag = {};
  Object.keys(doc.paths).forEach(function (path) {
    var item = doc.paths[path];
    ["get", "post", "put", "patch", "delete"].forEach(function (method) {
      var op = item[method];
      if (!op) return;
      var tag = (op.tags || ["Other"])[0];
      (byTag[tag] = byTag[tag] || []).push({path: path, method: method, op: op, item: item});
    });
  });
  (doc.tags || []).map(function (t) { return t.name; }).forEach(function (tag) {
    var ops = byTag[tag] || [];
    if (!ops.length) return;
    nav.appendChild(el("h3", {}, [tag]));
    ops.forEach(function (entry) {
      var op = entry.op;
      var id = op.operationId;
      nav.appendChild(el("a", {href: "#" + id}, [entry.method.toUpperCase() + " " + entry.path]));
      var article = el("article", {id: id}, [
        el("h2", {}, [el("span", {"class": "method " + entry.method}, [entry.method.toUpperCase()]),
                      doc.servers[0].url + entry.path]),
        el("p", {}, [el("strong", {}, [op.summary || ""])]),
      ]);
      if (op.description) article.appendChild(paragraphs(op.description));
      if (op.security && op.security.length === 0) {
        article.appendChild(el("p", {"class": "muted"}, ["No API key needed."]));
      }
      var parameters = (entry.item.parameters || []).concat(op.parameters || []);
      if (parameters.length) {
        article.appendChild(el("h4", {}, ["Parameters"]));
        var table = el("table", {}, [el("tr", {}, [el("th", {}, ["name"]), el("th", {}, ["in"]),
          el("th", {}, ["type"]), el("th", {}, ["description"])])]);
        parameters.forEach(function (p) {
          table.appendChild(el("tr", {}, [el("td", {}, [el("code", {}, [p.name])]),
            el("td", {}, [p.in]), el("td", {}, [typeName(p.schema)]),
            el("td", {}, [inline(p.description || "")])]));
        });
        article.appendChild(table);
      }
      if (op.requestBody) {
        article.appendChild(el("h4", {}, ["Request body (JSON)"]));
        article.appendChild(schemaBlock(op.requestBody.content["application/json"].schema));
      }
      article.appendChild(el("h4", {}, ["Responses"]));
      Object.keys(op.responses).sort().forEach(function (status) {
        var response = op.responses[status];
        var media = Object.keys(response.content || {})[0];
        var body = media ? response.content[media].schema : null;
        var details = el("details", {}, [el("summary", {}, [el("code", {}, [status]), " ",
          inline(response.description || "")])]);
        if (body) details.appendChild(schemaBlock(body));
        article.appendChild(details);
      });
      content.appendChild(article);
    });
  });
})();
</script>
</body>
</html>
"""


def render_page(document: dict[str, Any]) -> str:
    # `<` escaped as \\u003c: the JSON cannot close the script element it sits in.
    embedded = json.dumps(document, separators=(",", ":")).replace("<", "\\u003c")
    return _PAGE.replace("__DOCUMENT__", embedded)
