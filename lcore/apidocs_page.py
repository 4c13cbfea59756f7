"""The /docs page: every route, searchable, with "try it out", in one offline HTML page.

The page needs nothing but the app that serves it: CSS and JavaScript are inline, no
CDN, no web font, no request anywhere but the app's own origin. Each route has a form
for its path and query parameters and a JSON body (filled with an example built from
the schema); "Send" calls the app with ``fetch`` from the page itself and shows the
status, the headers and the body of the answer. The auth box at the top adds an
``Authorization`` header (Bearer token or Basic user and password) to every request
sent; cookies of the origin go along as usual. The search box filters routes by path,
name, summary, description, parameters, tags and statuses (``/`` focuses it).
"""

from __future__ import annotations

import json
from typing import Any

from ._utils import html_escape

__all__ = ["render_page"]

_BADGES = {"GET", "POST", "PUT", "DELETE", "PATCH", "ANY", "HEAD", "OPTIONS"}
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE", "ANY"}

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:1.2rem 2rem} header h1{margin:0;font-size:1.5rem}
header a{color:#9ecbff} header p{margin:.3rem 0 0;color:#c9d1d9}
main{max-width:64rem;margin:0 auto;padding:1rem 2rem 3rem}
.bar,.auth{display:flex;gap:.6rem;flex-wrap:wrap;align-items:center;margin:.6rem 0}
.bar input[type=search]{flex:1;min-width:14rem;padding:.5rem .7rem;font-size:1rem;border:1px solid #d0d7de;border-radius:6px}
.bar label{font-family:ui-monospace,monospace;font-size:.85rem}
.auth{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.5rem .8rem;font-size:.9rem}
.auth input,.auth select,.try input,.try select,.try textarea{font:inherit;padding:.3rem .45rem;border:1px solid #d0d7de;border-radius:5px}
.auth strong{margin-right:.3rem} #auth-state{color:#57606a}
.route{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:.7rem 0;padding:.8rem 1rem}
.route h2{margin:0;font-size:1.05rem;font-weight:600;display:flex;align-items:center;gap:.6rem;flex-wrap:wrap}
.m{display:inline-block;min-width:4.6rem;font:700 .8rem ui-monospace,monospace;padding:.25rem .4rem;border-radius:4px;color:#fff;text-align:center}
.GET{background:#0969da} .POST{background:#1a7f37} .PUT{background:#bc4c00} .DELETE{background:#cf222e}
.PATCH{background:#8250df} .ANY,.HEAD,.OPTIONS,.other{background:#57606a}
.rule{font:600 1rem ui-monospace,monospace} .name{color:#57606a;font-weight:400;font-size:.85rem}
.async,.tag,.lock{font-size:.7rem;border:1px solid #8250df;color:#8250df;border-radius:10px;padding:0 .4rem;font-weight:400}
.tag{border-color:#0969da;color:#0969da} .lock{border-color:#9a6700;color:#9a6700}
.summary{margin:.5rem 0 0;font-weight:500} .desc{white-space:pre-wrap;margin:.3rem 0 0;color:#424a53;font:inherit}
table{border-collapse:collapse;margin-top:.6rem;width:100%}
th,td{border-bottom:1px solid #eaeef2;padding:.3rem .5rem;text-align:left;font-size:.88rem} th{color:#57606a;font-weight:600}
td code,.ret code{font-family:ui-monospace,monospace} .ret{margin-top:.5rem;font-size:.9rem}
.statuses{margin-top:.5rem;display:flex;gap:.35rem;flex-wrap:wrap;font-size:.8rem}
.st{font:600 .75rem ui-monospace,monospace;padding:.1rem .4rem;border-radius:4px;background:#eaeef2}
.s2{background:#dafbe1;color:#116329} .s3{background:#ddf4ff;color:#0550ae} .s4{background:#fff8c5;color:#7d4e00}
.s5{background:#ffebe9;color:#a40e26}
.req{color:#cf222e} .empty{color:#57606a} [hidden]{display:none!important}
details.try{margin-top:.6rem;border-top:1px dashed #d0d7de;padding-top:.5rem}
details.try summary{cursor:pointer;color:#0969da;font-weight:600;font-size:.9rem}
.try form{display:grid;gap:.45rem;margin-top:.5rem}
.try .field{display:grid;grid-template-columns:11rem 1fr;gap:.5rem;align-items:center;font-size:.88rem}
.try .field span{font-family:ui-monospace,monospace}
.try textarea{width:100%;min-height:6rem;font-family:ui-monospace,monospace;font-size:.85rem}
.try button{justify-self:start;background:#1a7f37;color:#fff;border:0;border-radius:6px;padding:.4rem 1.1rem;font-weight:600;cursor:pointer}
.result{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .7rem;margin-top:.4rem}
.result .line{font:600 .9rem ui-monospace,monospace} .result pre{margin:.35rem 0 0;white-space:pre-wrap;word-break:break-all;
font:.82rem ui-monospace,monospace;max-height:24rem;overflow:auto}
.result .headers{color:#57606a}
"""

# The page's own script: filter/search, auth box, "try it out". No library, no fetch
# anywhere but this origin.
_JS = """
(function(){
  var DOCS=JSON.parse(document.getElementById('docs-config').textContent);
  var here=location.pathname.replace(/\\/+$/,''), root='';
  if(here.length>=DOCS.path.length && here.slice(here.length-DOCS.path.length)===DOCS.path){
    root=here.slice(0,here.length-DOCS.path.length);
  }
  var input=document.getElementById('filter'), boxes=document.querySelectorAll('.bar input[type=checkbox]');
  var routes=document.querySelectorAll('.route'), count=document.getElementById('count'), none=document.getElementById('none');
  function text(r){
    var d=r.querySelector('.doc');
    return ((d?d.textContent:'')+' '+(r.dataset.search||'')).toLowerCase();
  }
  function apply(){
    var words=input.value.toLowerCase().split(/\\s+/).filter(Boolean), on={}, shown=0;
    boxes.forEach(function(b){on[b.value]=b.checked;});
    routes.forEach(function(r){
      var t=text(r), ok=on[r.dataset.method]!==false && words.every(function(w){return t.indexOf(w)>=0;});
      r.hidden=!ok; if(ok) shown++;
    });
    count.textContent=shown===routes.length?String(shown):shown+' of '+routes.length;
    none.hidden=shown>0;
  }
  input.addEventListener('input',apply); boxes.forEach(function(b){b.addEventListener('change',apply);});
  document.addEventListener('keydown',function(e){
    var t=e.target.tagName;
    if(e.key==='/' && t!=='INPUT' && t!=='TEXTAREA' && t!=='SELECT'){e.preventDefault(); input.focus();}
  });

  var kind=document.getElementById('auth-kind'), token=document.getElementById('auth-token');
  var user=document.getElementById('auth-user'), pass=document.getElementById('auth-pass');
  var state=document.getElementById('auth-state');
  function showAuth(){
    token.hidden=kind.value!=='bearer'; user.hidden=pass.hidden=kind.value!=='basic';
    state.textContent=kind.value==='bearer'?(token.value?'Bearer token set':'no token yet')
      :kind.value==='basic'?(user.value?'Basic as '+user.value:'no user yet'):'requests go without Authorization';
  }
  [kind,token,user,pass].forEach(function(el){el.addEventListener('input',showAuth); el.addEventListener('change',showAuth);});
  showAuth();
  function authHeader(){
    if(kind.value==='bearer' && token.value) return 'Bearer '+token.value.trim();
    if(kind.value==='basic' && user.value){
      var raw=unescape(encodeURIComponent(user.value+':'+pass.value));
      return 'Basic '+btoa(raw);
    }
    return null;
  }

  function show(form, line, headers, body){
    var box=form.parentNode.querySelector('.result');
    box.hidden=false;
    box.querySelector('.line').textContent=line;
    box.querySelector('.headers').textContent=headers;
    box.querySelector('.body').textContent=body;
  }
  function send(form){
    var method=form.dataset.method, pick=form.querySelector('select[name="_method"]');
    if(pick) method=pick.value;
    var path=form.dataset.path, missing=[];
    form.querySelectorAll('[data-in="path"]').forEach(function(el){
      var v=el.value;
      if(v===''){missing.push(el.name); return;}
      var enc=el.dataset.slash?v.split('/').map(encodeURIComponent).join('/'):encodeURIComponent(v);
      path=path.split('{'+el.name+'}').join(enc);
    });
    if(missing.length){show(form,'Fill in '+missing.join(', ')+' first','',''); return;}
    var qs=[];
    form.querySelectorAll('[data-in="query"]').forEach(function(el){
      if(el.value!=='') qs.push(encodeURIComponent(el.name)+'='+encodeURIComponent(el.value));
    });
    var url=root+path+(qs.length?'?'+qs.join('&'):'');
    var headers={'Accept':'application/json'}, auth=authHeader();
    if(auth) headers['Authorization']=auth;
    var opts={method:method,headers:headers,credentials:'same-origin'};
    var ta=form.querySelector('textarea[name="_body"]');
    if(ta && ta.value.trim() && method!=='GET' && method!=='HEAD'){
      opts.body=ta.value; headers['Content-Type']='application/json';
    }
    var started=Date.now();
    show(form,method+' '+url+' ...','','');
    fetch(url,opts).then(function(r){
      return r.text().then(function(body){
        var lines=[];
        r.headers.forEach(function(v,k){lines.push(k+': '+v);});
        var type=r.headers.get('content-type')||'';
        if(type.indexOf('json')>=0){try{body=JSON.stringify(JSON.parse(body),null,2);}catch(e){}}
        show(form,r.status+' '+(r.statusText||'')+'  \\u00b7  '+method+' '+url+'  \\u00b7  '+(Date.now()-started)+' ms',
             lines.sort().join('\\n'),body);
      });
    }).catch(function(e){show(form,'Request failed: '+e,'','');});
  }
  document.querySelectorAll('form.tryform').forEach(function(f){
    f.addEventListener('submit',function(e){e.preventDefault(); send(f);});
  });
})();
"""


def _param_rows(params: list[dict[str, Any]]) -> str:
    rows = []
    for p in params:
        if p["required"]:
            default = '<span class="req">required</span>'
        else:
            default = f"<code>{html_escape(repr(p.get('default')))}</code>"
        rows.append(
            f"<tr><td><code>{html_escape(p['name'])}</code></td><td>{html_escape(p['in'])}</td>"
            f"<td><code>{html_escape(str(p['type']))}</code></td><td>{default}</td></tr>"
        )
    return "".join(rows)


def _field(label: str, control: str) -> str:
    return f'<label class="field"><span>{label}</span>{control}</label>'


def _try_form(method: str, path: str, op: dict[str, Any], example: Any, slashes: set[str]) -> str:
    """The "try it out" form of one operation (the page's script sends it)."""
    parts = [
        f'<form class="tryform" data-method="{html_escape("GET" if method == "ANY" else method)}" '
        f'data-path="{html_escape(path)}">'
    ]
    if method == "ANY":
        options = "".join(
            f"<option>{m}</option>" for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
        )
        parts.append(_field("method", f'<select name="_method">{options}</select>'))
    for p in op.get("parameters", ()):
        name, where = p["name"], p["in"]
        if where not in ("path", "query"):
            continue
        default = p.get("schema", {}).get("default")
        value = (
            ""
            if default is None
            else json.dumps(default)
            if not isinstance(default, str)
            else default
        )
        value = value.lower() if isinstance(default, bool) else value
        attrs = f'name="{html_escape(name)}" data-in="{where}" value="{html_escape(value)}"'
        if where == "path":
            attrs += " required"
            if name in slashes:
                attrs += ' data-slash="1"'
        label = f"{html_escape(name)} <small>({where}{', required' if p.get('required') else ''})</small>"
        parts.append(_field(label, f"<input {attrs}>"))
    if "requestBody" in op or method in _BODY_METHODS:
        text = json.dumps(example, indent=2) if example is not None else ""
        parts.append(
            _field(
                "JSON body",
                f'<textarea name="_body" spellcheck="false">{html_escape(text)}</textarea>',
            )
        )
    parts.append('<button type="submit">Send</button></form>')
    parts.append(
        '<div class="result" hidden><div class="line"></div><pre class="headers"></pre>'
        '<pre class="body"></pre></div>'
    )
    return '<details class="try"><summary>Try it out</summary>' + "".join(parts) + "</details>"


def _article(
    r: dict[str, Any],
    method: str,
    path: str,
    op: dict[str, Any] | None,
    example: Any,
    slashes: set[str],
) -> str:
    summary, _, rest = (r["docstring"] or "").partition("\n")
    doc = [
        f'<h2><span class="m {method if method in _BADGES else "other"}">{html_escape(method)}</span>'
        f'<span class="rule">{html_escape(r["rule"])}</span>',
    ]
    if r["name"]:
        doc.append(f'<span class="name">{html_escape(r["name"])}</span>')
    if r.get("async"):
        doc.append('<span class="async">async</span>')
    op = op or {}
    for tag in op.get("tags", ()):
        doc.append(f'<span class="tag">{html_escape(tag)}</span>')
    schemes = [name for req in op.get("security", ()) for name in req]
    if schemes:
        doc.append(
            f'<span class="lock" title="needs authentication">auth: {html_escape(" or ".join(schemes))}</span>'
        )
    doc.append("</h2>")
    if summary:
        doc.append(f'<p class="summary">{html_escape(summary)}</p>')
    if rest.strip():
        doc.append(f'<pre class="desc">{html_escape(rest.strip())}</pre>')
    if r["parameters"]:
        doc.append(
            "<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Default</th></tr>"
            f"</thead><tbody>{_param_rows(r['parameters'])}</tbody></table>"
        )
    if r.get("body"):
        fields = ", ".join(
            f"<code>{html_escape(k)}: {html_escape(str(v))}</code>" for k, v in r["body"].items()
        )
        doc.append(f'<div class="ret">JSON body: {fields}</div>')
    if r["return_type"]:
        doc.append(f'<div class="ret">Returns <code>{html_escape(r["return_type"])}</code></div>')
    responses = op.get("responses", {})
    if responses:
        badges = "".join(
            f'<span class="st s{html_escape(code[:1])}" title="{html_escape(resp.get("description", ""))}">'
            f"{html_escape(code)} {html_escape(resp.get('description', ''))}</span>"
            for code, resp in responses.items()
        )
        doc.append(f'<div class="statuses">{badges}</div>')
    search = " ".join([op.get("operationId", ""), *op.get("tags", ()), *schemes])
    return (
        f'<article class="route" data-method="{html_escape(method)}" data-rule="{html_escape(r["rule"])}" '
        f'data-search="{html_escape(search)}"><div class="doc">{"".join(doc)}</div>'
        f"{_try_form(method, path, op, example, slashes)}</article>"
    )


def render_page(app: Any, docs_path: str, json_url: str, openapi_url: str, title: str) -> str:
    """The /docs HTML page of ``app`` (served by :func:`lcore.apidocs.enable_docs`)."""
    from ._jsonschema import Schemas
    from ._openapi import _path, build_openapi
    from .apidocs import _path_params, _route_entry, _walk

    spec = build_openapi(app)
    schemas = Schemas()
    schemas.components = spec.get("components", {}).get("schemas", {})
    blocks, methods = [], []
    for route, rule, prefix, _chain in _walk(app):
        r = _route_entry(route, rule)
        method = r["method"]
        if method not in methods:
            methods.append(method)
        path = _path(route, prefix)
        op = spec["paths"].get(path, {}).get("get" if method == "ANY" else method.lower())
        body = (
            (op or {})
            .get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        example = schemas.example(body) if body else None
        slashes = {k for k, (mode, _conf) in _path_params(route).items() if mode in ("path", "re")}
        blocks.append(_article(r, method, path, op, example, slashes))
    boxes = "".join(
        f'<label><input type="checkbox" value="{html_escape(m)}" checked> {html_escape(m)}</label>'
        for m in methods
    )
    config = json.dumps({"path": docs_path.rstrip("/")}).replace("<", "\\u003c")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{_CSS}</style></head><body>\n"
        f"<header><h1>{html_escape(title)}</h1>\n"
        f'<p><span id="count">{len(blocks)}</span> routes &middot; <a href="{html_escape(json_url)}">JSON</a>'
        f' &middot; <a href="{html_escape(openapi_url)}">OpenAPI 3.1</a></p></header>\n<main>\n'
        '<div class="bar"><input type="search" id="filter" placeholder="Search routes (path, name, text, tag, status)"'
        f' aria-label="Search routes">\n{boxes}</div>\n'
        '<div class="auth"><strong>Auth</strong><select id="auth-kind" aria-label="Authentication">'
        '<option value="">none</option><option value="bearer">Bearer token</option>'
        '<option value="basic">Basic</option></select>'
        '<input id="auth-token" placeholder="token" aria-label="Bearer token" autocomplete="off">'
        '<input id="auth-user" placeholder="user" aria-label="Basic user" autocomplete="off">'
        '<input id="auth-pass" type="password" placeholder="password" aria-label="Basic password"'
        ' autocomplete="off"><span id="auth-state"></span></div>\n'
        f'<div id="routes">\n{chr(10).join(blocks)}\n</div>\n'
        '<p class="empty" id="none" hidden>No route matches the search.</p>\n</main>\n'
        f'<script type="application/json" id="docs-config">{config}</script>\n'
        f"<script>{_JS}</script>\n</body></html>\n"
    )
