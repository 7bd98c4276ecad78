import Foundation
import PrismSupport

/// The explorer page: one self-contained HTML file (no network, no server, opens from disk and
/// prints) with the data as one JSON object in `<script type="application/json" id="data">` and
/// a small vanilla script that draws every figure as SVG from it.
///
/// The script marks its end on `<body>`: `data-ready="1"` when every figure was built, or
/// `data-error="1"` with the message in the visible `#error` element (also for errors raised
/// later by a click), so a headless browser's `--dump-dom` shows whether the page works.
public enum ExplorerHTML {
    /// The page for `data` (see `ExplorerData.object`).
    /// - Throws: `PrismError` when the object cannot be written as JSON (it always can from
    ///   `ExplorerData.object`; non-finite numbers are written as strings).
    public static func page(_ data: [String: Any], title: String) throws -> String {
        let json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: JSONNumbers.encodable(data), options: [.sortedKeys])
        } catch {
            throw PrismError("cannot write the explorer's data as JSON: \(error)")
        }
        return page(json: String(decoding: json, as: UTF8.self), title: title)
    }

    /// The page around an already serialized JSON object.
    public static func page(json: String, title: String) -> String {
        // `<` never appears raw inside the script element, so no text in the data (a token
        // `</script>`) can end it early; JSON.parse reads \u003c back as `<`.
        let safe = json.replacingOccurrences(of: "<", with: "\\u003c")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <div id="error" class="error" hidden></div>
            <header id="header"></header>
            <main>
            <section id="residual"><h2>Residual prism</h2><p class="note">The target's logit as embed + one term per attention and MLP block. Click a bar to select its layer.</p><div class="fig"></div></section>
            <section id="heads"><h2>Heads</h2><p class="note">Each head's term (layer x head). Click a head for its source terms and attention pattern; click a layer label to select the layer.</p><div class="fig"></div></section>
            <section id="head-detail"><h2>Selected head</h2><p class="note"></p><div class="fig"></div></section>
            <section id="neurons"><h2>Top neurons per layer</h2><p class="note"></p><div class="fig"></div></section>
            <section id="lens"><h2>Logit lens</h2><p class="note"></p><div class="controls" id="lens-controls"></div><div class="fig"></div></section>
            </main>
            <script type="application/json" id="data">\(safe)</script>
            <script>
            \(script)
            </script>
            </body>
            </html>

            """
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let css = #"""
        body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 24px; color: #222; background: #fff; }
        h1 { font-size: 20px; margin: 16px 0 6px; }
        h2 { font-size: 15px; margin: 18px 0 4px; border-bottom: 1px solid #ddd; }
        .note { color: #555; margin: 2px 0 6px; }
        .error { background: #fde0dc; color: #8a1c10; border: 1px solid #e3a49a; padding: 8px; white-space: pre-wrap; font-family: monospace; }
        table.facts { border-collapse: collapse; }
        table.facts td { padding: 1px 10px 1px 0; vertical-align: top; }
        table.facts td:first-child { color: #555; white-space: nowrap; }
        table.targets { border-collapse: collapse; margin-top: 6px; }
        table.targets th, table.targets td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; font-variant-numeric: tabular-nums; }
        table.targets th:first-child, table.targets td:first-child { text-align: left; }
        table.targets tr.target-row { cursor: pointer; }
        table.targets tr.selected { background: #fff3c4; }
        .tok { display: inline-block; border: 1px solid #ccc; border-radius: 3px; padding: 0 3px; margin: 1px; font-family: monospace; white-space: pre; background: #fafafa; }
        .tok.decomposed { border-color: #b2182b; background: #fde0dc; }
        .controls { margin: 4px 0; }
        .controls button, .controls label { margin-right: 8px; }
        button.on { background: #333; color: #fff; }
        #selection { margin: 6px 0; font-weight: 600; }
        svg text { font-family: system-ui, sans-serif; }
        svg .mono { font-family: monospace; }
        .clickable { cursor: pointer; }
        .dim { opacity: 0.25; }
        .neuron-row { margin: 2px 0; }
        .neuron { display: inline-block; padding: 0 4px; margin: 1px; border-radius: 3px; font-family: monospace; font-size: 11px; }
        .fig { overflow-x: auto; }
        main { display: flex; flex-wrap: wrap; gap: 0 36px; align-items: flex-start; }
        main section { flex: 0 1 auto; max-width: 100%; }
        main section .note { max-width: 620px; }
        #neurons { flex: 1 1 420px; }
        #lens { flex-basis: 100%; }
        #lens .note { max-width: none; }
        @media print {
          .controls, #selection button { display: none; }
          body { margin: 0; font-size: 10px; }
          main { display: block; }
          section { break-inside: avoid; }
          .fig { overflow: visible; }
        }
        """#

    static let script = #"""
        (function () {
          "use strict";
          var errBox = document.getElementById("error");
          function fail(e) {
            errBox.textContent = "explorer error: " + (e && e.stack ? e.stack : String(e));
            errBox.hidden = false;
            document.body.setAttribute("data-error", "1");
          }
          window.addEventListener("error", function (ev) { fail(ev.error || ev.message); });
          var NS = "http://www.w3.org/2000/svg";
          function svgEl(tag, attrs, parent) {
            var e = document.createElementNS(NS, tag);
            for (var k in attrs) e.setAttribute(k, attrs[k]);
            if (parent) parent.appendChild(e);
            return e;
          }
          function htmlEl(tag, attrs, text, parent) {
            var e = document.createElement(tag);
            for (var k in attrs) e.setAttribute(k, attrs[k]);
            if (text != null) e.textContent = text;
            if (parent) parent.appendChild(e);
            return e;
          }
          function title(e, text) { svgEl("title", {}, e).textContent = text; }
          function num(v) { return typeof v === "number" ? v : Number(v); }
          function fmt(v) {
            v = num(v);
            if (!isFinite(v)) return String(v);
            var a = Math.abs(v);
            if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
            return (v >= 0 ? "+" : "") + v.toFixed(4);
          }
          function plain(v) { v = num(v); return isFinite(v) ? v.toFixed(4) : String(v); }
          function sci(v) { v = num(v); return isFinite(v) ? v.toExponential(2) : String(v); }
          function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
          function q(s) { return "\u201c" + s + "\u201d"; }
          function maxAbs(values) {
            var m = 0;
            values.forEach(function (v) { v = num(v); if (isFinite(v)) m = Math.max(m, Math.abs(v)); });
            return m || 1;
          }
          // Diverging (blue negative, red positive; ColorBrewer RdBu ends, colour-blind safe).
          function diverging(v, m) {
            v = num(v);
            if (!isFinite(v)) return "#bbbbbb";
            var t = Math.max(-1, Math.min(1, v / m));
            var end = t >= 0 ? [178, 24, 43] : [33, 102, 172];
            var a = Math.abs(t);
            return "rgb(" + end.map(function (c) { return Math.round(255 + (c - 255) * a); }).join(",") + ")";
          }
          function sequential(v) {
            var a = Math.max(0, Math.min(1, v));
            var end = [8, 48, 107];
            return "rgb(" + end.map(function (c) { return Math.round(255 + (c - 255) * a); }).join(",") + ")";
          }
          // The colour scale of the lens: the 90th percentile of |value| outside the embed column,
          // so the few huge readouts of raw embeddings (own norm) do not wash out every other cell;
          // cells beyond it saturate.
          function robustMax(values) {
            var a = [];
            values.forEach(function (v) { v = num(v); if (isFinite(v)) a.push(Math.abs(v)); });
            if (!a.length) return 1;
            a.sort(function (x, y) { return x - y; });
            return a[Math.min(a.length - 1, Math.floor(0.9 * (a.length - 1)))] || a[a.length - 1] || 1;
          }
          function ink(v, m) { return Math.abs(num(v) / m) > 0.55 ? "#fff" : "#222"; }

          var D = JSON.parse(document.getElementById("data").textContent);
          var L = D.model.layers, H = D.model.heads, P = D.position + 1;
          var S = { t: 0, layer: null, head: null, norm: "own" };
          function tokText(id) { var t = D.vocab[String(id)]; return t == null ? "#" + id : t; }
          function target() { return D.targets[S.t]; }
          function ranksText(r) { return r.map(function (x) { return x == null ? "-" : String(x); }).join(" / "); }

          function selectLayer(l) {
            S.layer = S.layer === l ? null : l;
            if (S.head && S.head[0] !== S.layer) S.head = null;
            render();
          }
          function selectHead(l, h) {
            if (S.head && S.head[0] === l && S.head[1] === h) { S.head = null; S.layer = null; }
            else { S.head = [l, h]; S.layer = l; }
            render();
          }
          function clickable(e, fn) {
            e.setAttribute("class", (e.getAttribute("class") || "") + " clickable");
            e.addEventListener("click", function (ev) { ev.stopPropagation(); try { fn(); } catch (x) { fail(x); } });
          }
          function dimmed(layer) { return S.layer !== null && layer !== S.layer; }

          function renderHeader() {
            var hd = document.getElementById("header");
            hd.textContent = "";
            htmlEl("h1", {}, "prism explore \u2014 " + D.model.name, hd);
            var facts = htmlEl("table", { "class": "facts" }, null, hd);
            function row(k, v) {
              var tr = htmlEl("tr", {}, null, facts);
              htmlEl("td", {}, k, tr);
              return htmlEl("td", {}, v, tr);
            }
            var m = D.model;
            row("model", m.path + " \u2014 " + m.generation + ", " + m.layers + " layers x " + m.heads + " heads (" + m.kv_heads +
              " kv), d_model " + m.d_model + ", d_mlp " + m.d_mlp + ", vocab " + m.vocab + (m.softcap != null ? ", logit soft-cap " + m.softcap : ""));
            row("route", D.route.text).setAttribute("id", "route");
            var pr = row("prompt", null);
            D.tokens.forEach(function (t, j) {
              var s = htmlEl("span", { "class": "tok" + (j === D.position ? " decomposed" : ""), "title": "position " + j + ", id " + t.id }, t.text, pr);
              if (j === D.position) s.setAttribute("id", "decomposed-token");
            });
            row("decomposed", "position " + D.position + " " + q(D.tokens[D.position].text) + " of " + D.prompt_length + " tokens" +
              (P < D.prompt_length ? " (the page shows positions 0-" + D.position + ": later tokens cannot change it)" : ""));
            var top1 = D.model_top1;
            row("model's top-1", top1 ? q(top1.text) + " (id " + top1.id + ", logit " + plain(top1.logit) + ")" :
              "not known (activations read from a store keep no logits)").setAttribute("id", "top1");
            row("frozen", D.frozen.join("; "));
            row("prism", "version " + D.prism_version);
            var tbl = htmlEl("table", { "class": "targets", "id": "targets" }, null, hd);
            var th = htmlEl("tr", {}, null, tbl);
            ["target", "ids", "logit", "rank", "sum of terms", "error", "finer closure"].forEach(function (c) { htmlEl("th", {}, c, th); });
            D.targets.forEach(function (t, k) {
              var tr = htmlEl("tr", { "class": "target-row" + (k === S.t ? " selected" : ""), "data-target": k }, null, tbl);
              [t.label, t.ids.join(" - "), plain(t.logit), ranksText(t.ranks) + " of " + D.model.vocab, plain(t.sum), sci(t.error), sci(t.finer_closure)]
                .forEach(function (c) { htmlEl("td", {}, c, tr); });
              tr.addEventListener("click", function () { try { S.t = k; render(); } catch (x) { fail(x); } });
            });
            var sel = htmlEl("div", { "id": "selection" }, null, hd);
            var parts = ["target " + target().label];
            if (S.layer !== null) parts.push("layer " + S.layer);
            if (S.head) parts.push("head L" + S.head[0] + "H" + S.head[1]);
            sel.appendChild(document.createTextNode("showing: " + parts.join(", ") + " "));
            if (S.layer !== null) {
              var b = htmlEl("button", {}, "clear selection", sel);
              b.addEventListener("click", function () { S.layer = null; S.head = null; render(); });
            }
          }

          function renderResidual() {
            var fig = document.querySelector("#residual .fig");
            fig.textContent = "";
            var rows = target().residual, rh = 14, lw = 110, bw = 420;
            var m = maxAbs(rows.map(function (r) { return r.value; }));
            var svg = svgEl("svg", { width: lw + bw + 90, height: rows.length * rh + 10, "class": "bars" }, fig);
            var x0 = lw + bw / 2;
            svgEl("line", { x1: x0, x2: x0, y1: 0, y2: rows.length * rh, stroke: "#999" }, svg);
            rows.forEach(function (r, i) {
              var g = svgEl("g", { "class": dimmed(r.layer) ? "dim" : "" }, svg);
              var y = i * rh;
              var t = svgEl("text", { x: lw - 4, y: y + rh - 3, "text-anchor": "end", "font-size": 11 }, g);
              t.textContent = r.name;
              var v = num(r.value), w = isFinite(v) ? Math.abs(v) / m * (bw / 2) : 0;
              var bar = svgEl("rect", {
                x: v >= 0 ? x0 : x0 - w, y: y + 2, width: Math.max(w, 0.5), height: rh - 4,
                fill: r.kind === "attn" ? (v >= 0 ? "#d6604d" : "#4393c3") : r.kind === "mlp" ? (v >= 0 ? "#b2182b" : "#2166ac") : "#888",
                "class": "bar resid-bar", "data-name": r.name, "data-layer": r.layer, "data-value": r.value
              }, g);
              title(bar, r.name + ": " + fmt(r.value));
              var vt = svgEl("text", { x: lw + bw + 4, y: y + rh - 3, "font-size": 10, "class": "mono" }, g);
              vt.textContent = fmt(r.value);
              if (r.layer >= 0) clickable(g, function () { selectLayer(r.layer); });
            });
            var tgt = target();
            document.querySelector("#residual .note").textContent = "The logit of " + tgt.label + " (" + plain(tgt.logit) +
              ") as embed + one term per attention and MLP block; they sum to " + plain(tgt.sum) + " (error " + sci(tgt.error) +
              "). Lighter bars: attention, darker: MLP. Click a bar to select its layer.";
          }

          function renderHeads() {
            var fig = document.querySelector("#heads .fig");
            fig.textContent = "";
            var heads = target().heads, cw = 44, ch = 18, lw = 40, top = 18;
            var m = maxAbs([].concat.apply([], heads));
            var svg = svgEl("svg", { width: lw + H * cw + 10, height: top + L * ch + 4, "id": "head-grid" }, fig);
            for (var h = 0; h < H; h++) {
              svgEl("text", { x: lw + h * cw + cw / 2, y: 12, "text-anchor": "middle", "font-size": 11 }, svg).textContent = "H" + h;
            }
            heads.forEach(function (row, l) {
              var lab = svgEl("text", { x: lw - 4, y: top + l * ch + ch - 5, "text-anchor": "end", "font-size": 11, "class": "layer-label", "data-layer": l }, svg);
              lab.textContent = "L" + l;
              clickable(lab, function () { selectLayer(l); });
              row.forEach(function (v, h) {
                var g = svgEl("g", { "class": dimmed(l) ? "dim" : "" }, svg);
                var sel = S.head && S.head[0] === l && S.head[1] === h;
                var r = svgEl("rect", {
                  x: lw + h * cw, y: top + l * ch, width: cw - 1, height: ch - 1, fill: diverging(v, m),
                  stroke: sel ? "#000" : "none", "stroke-width": 2,
                  "class": "cell head-cell", "data-layer": l, "data-head": h, "data-value": v
                }, g);
                title(r, "L" + l + "H" + h + " (blocks." + l + ".attn head " + h + "): " + fmt(v));
                var t = svgEl("text", { x: lw + h * cw + cw / 2, y: top + l * ch + ch - 5, "text-anchor": "middle", "font-size": 9, fill: ink(v, m), "pointer-events": "none" }, g);
                t.textContent = isFinite(num(v)) ? num(v).toFixed(2) : String(v);
                clickable(g, function () { selectHead(l, h); });
              });
            });
          }

          function defaultHead() {
            var best = [0, 0], bv = -1;
            target().heads.forEach(function (row, l) {
              if (S.layer !== null && l !== S.layer) return;
              row.forEach(function (v, h) { v = Math.abs(num(v)); if (isFinite(v) && v > bv) { bv = v; best = [l, h]; } });
            });
            return best;
          }

          function patternOf(l, h) {
            var s = atob(D.patterns.data[l][h]), T = D.patterns.tokens, out = [], i = 0;
            for (var qq = 0; qq < T; qq++) {
              var row = [];
              for (var k = 0; k <= qq; k++) row.push(s.charCodeAt(i++) / 255);
              out.push(row);
            }
            return out;
          }

          function renderHeadDetail() {
            var fig = document.querySelector("#head-detail .fig");
            fig.textContent = "";
            var chosen = S.head || defaultHead(), l = chosen[0], h = chosen[1];
            var src = target().head_sources[l][h], term = target().heads[l][h];
            document.querySelector("#head-detail .note").textContent = "L" + l + "H" + h + " (blocks." + l + ".attn head " + h + "): term " + fmt(term) +
              (S.head ? "" : " \u2014 the largest |term|" + (S.layer !== null ? " in layer " + S.layer : "") + "; click a head to choose") +
              ". Attention pattern (query rows x key columns; the decomposed query is outlined) and, below it, the head's term split by source token at the decomposed position.";
            var T = P, c = Math.max(4, Math.min(22, Math.floor(560 / T)));
            var showLabels = c >= 8, lw = showLabels ? 110 : 40, top = 6, bh = 80;
            var gridH = T * c, lblH = showLabels ? 90 : 10;
            var svg = svgEl("svg", { width: lw + T * c + 80, height: top + gridH + lblH + bh + 30, "id": "pattern", "data-layer": l, "data-head": h }, fig);
            var pat = patternOf(l, h);
            for (var qq = 0; qq < T; qq++) {
              if (showLabels) {
                var rl = svgEl("text", { x: lw - 4, y: top + qq * c + c - 2, "text-anchor": "end", "font-size": Math.min(11, c - 1), "class": "mono" }, svg);
                rl.textContent = clip(D.tokens[qq].text, 14);
              }
              for (var k = 0; k <= qq; k++) {
                var v = pat[qq][k];
                var r = svgEl("rect", { x: lw + k * c, y: top + qq * c, width: c, height: c, fill: sequential(v),
                  "class": "cell pattern-cell", "data-q": qq, "data-k": k, "data-value": v.toFixed(3) }, svg);
                title(r, "query " + qq + " " + q(D.tokens[qq].text) + " \u2192 key " + k + " " + q(D.tokens[k].text) + ": " + v.toFixed(3));
              }
            }
            svgEl("rect", { x: lw, y: top + D.position * c, width: T * c, height: c, fill: "none", stroke: "#b2182b", "stroke-width": 1.5, "pointer-events": "none" }, svg);
            if (showLabels) {
              for (var kk = 0; kk < T; kk++) {
                var x = lw + kk * c + c / 2 + 3, y = top + gridH + 4;
                var kl = svgEl("text", { x: x, y: y, "font-size": Math.min(11, c - 1), "class": "mono", transform: "rotate(90 " + x + " " + y + ")" }, svg);
                kl.textContent = clip(D.tokens[kk].text, 14);
              }
            }
            // Source terms: bars under their key columns.
            var y0 = top + gridH + lblH + bh / 2, m = maxAbs(src);
            svgEl("line", { x1: lw, x2: lw + T * c, y1: y0, y2: y0, stroke: "#999" }, svg);
            src.forEach(function (v, j) {
              v = num(v);
              var hgt = isFinite(v) ? Math.abs(v) / m * (bh / 2 - 2) : 0;
              var b = svgEl("rect", { x: lw + j * c + 0.5, y: v >= 0 ? y0 - hgt : y0, width: Math.max(1, c - 1), height: Math.max(hgt, 0.5),
                fill: v >= 0 ? "#b2182b" : "#2166ac", "class": "bar source-bar", "data-source": j, "data-value": v }, svg);
              title(b, "L" + l + "H" + h + " from source " + j + " " + q(D.tokens[j].text) + ": " + fmt(v));
            });
            svgEl("text", { x: lw + T * c + 6, y: y0 + 4, "font-size": 10 }, svg).textContent = "\u00b1" + plain(m);
            svgEl("text", { x: 2, y: y0 + 4, "font-size": 10 }, svg).textContent = "source";
          }

          function renderNeurons() {
            var fig = document.querySelector("#neurons .fig");
            fig.textContent = "";
            var t = target(), all = [];
            t.neurons.forEach(function (ns) { ns.forEach(function (n) { all.push(n.v); }); });
            var m = maxAbs(all);
            document.querySelector("#neurons .note").textContent = "Per layer, the " + (t.neurons[0] ? t.neurons[0].length : 0) + " neurons (of " +
              t.neurons_per_layer + ") with the largest |term| for " + t.label + (S.layer !== null ? "; layer " + S.layer + " only (selected)" : "") + ".";
            t.neurons.forEach(function (ns, l) {
              if (S.layer !== null && l !== S.layer) return;
              var row = htmlEl("div", { "class": "neuron-row", "data-layer": l }, null, fig);
              var lab = htmlEl("span", { "class": "clickable" }, "L" + l + " ", row);
              lab.addEventListener("click", function () { try { selectLayer(l); } catch (x) { fail(x); } });
              ns.forEach(function (n) {
                var s = htmlEl("span", { "class": "neuron", "data-layer": l, "data-neuron": n.n, "data-value": n.v,
                  "title": "L" + l + "N" + n.n + " (blocks." + l + ".mlp neuron " + n.n + "): " + fmt(n.v) }, "N" + n.n + " " + fmt(n.v), row);
                s.style.background = diverging(n.v, m);
                s.style.color = ink(n.v, m);
              });
            });
          }

          function renderLens() {
            var ctl = document.getElementById("lens-controls");
            ctl.textContent = "";
            [["own", "own 1/rms per point (classic lens)"], ["frozen", "final norm's 1/rms frozen (additive)"]].forEach(function (o) {
              var b = htmlEl("button", { "class": S.norm === o[0] ? "on" : "", "data-norm": o[0] }, "norm: " + o[1], ctl);
              b.addEventListener("click", function () { try { S.norm = o[0]; renderLens(); } catch (x) { fail(x); } });
            });
            var fig = document.querySelector("#lens .fig");
            fig.textContent = "";
            var lens = D.lens, k = S.t, pts = lens.points, NP = pts.length;
            var tv = S.norm === "own" ? lens.target_own[k] : lens.target_frozen[k];
            var topv = S.norm === "own" ? lens.top_own : lens.top_frozen;
            var m = robustMax([].concat.apply([], tv.map(function (row) { return row.slice(1); })));
            document.querySelector("#lens .note").textContent = "The residual stream at each position (rows) after each layer (columns) read through the final norm and the unembedding. " +
              "Each cell names its top token; colour: the logit of " + target().label + " (saturating at \u00b1" + plain(m) + ", the 90th percentile of |logit| after the embed column). Hover for the top tokens and the target's logit and rank. Click a column header to select its layer.";
            var cw = 56, ch = 16, lw = 130, top = 20;
            var svg = svgEl("svg", { width: lw + NP * cw + 10, height: top + lens.positions * ch + 4, "id": "lens-grid", "data-norm": S.norm }, fig);
            function layerOf(i) { return i === 0 ? -1 : i - 1; }
            pts.forEach(function (name, i) {
              var hl = svgEl("text", { x: lw + i * cw + cw / 2, y: 13, "text-anchor": "middle", "font-size": 11, "class": "lens-head", "data-point": name }, svg);
              hl.textContent = i === 0 ? "embed" : "L" + (i - 1);
              title(hl, name);
              if (i > 0) clickable(hl, function () { selectLayer(i - 1); });
            });
            for (var p = 0; p < lens.positions; p++) {
              var rl = svgEl("text", { x: lw - 4, y: top + p * ch + ch - 4, "text-anchor": "end", "font-size": 11, "class": "mono" }, svg);
              rl.textContent = p + " " + clip(D.tokens[p].text, 14);
              for (var i = 0; i < NP; i++) {
                var v = tv[p][i], ids = lens.top_ids[p][i], tops = topv[p][i], ranks = lens.target_ranks[k][p][i];
                var top1 = ids.length ? tokText(ids[0]) : "";
                var g = svgEl("g", { "class": S.layer !== null && layerOf(i) !== S.layer ? "dim" : "" }, svg);
                var r = svgEl("rect", { x: lw + i * cw, y: top + p * ch, width: cw - 1, height: ch - 1, fill: diverging(v, m),
                  stroke: S.layer !== null && layerOf(i) === S.layer ? "#000" : "none",
                  "class": "cell lens-cell", "data-pos": p, "data-point": pts[i], "data-value": v, "data-top": top1, "data-rank": ranksText(ranks) }, g);
                title(r, "position " + p + " " + q(D.tokens[p].text) + ", " + pts[i] + " (norm " + S.norm + ")\n" +
                  "top: " + ids.map(function (id, j) { return q(tokText(id)) + " " + plain(tops[j]); }).join(", ") + "\n" +
                  target().label + ": logit " + plain(v) + ", rank " + ranksText(ranks));
                var t = svgEl("text", { x: lw + i * cw + 3, y: top + p * ch + ch - 4, "font-size": 10, fill: ink(v, m), "class": "mono", "pointer-events": "none" }, g);
                t.textContent = clip(top1, 7);
              }
            }
            svgEl("rect", { x: lw, y: top + D.position * ch, width: NP * cw, height: ch - 1, fill: "none", stroke: "#b2182b", "stroke-width": 1.5, "pointer-events": "none" }, svg);
          }

          function render() {
            renderHeader();
            renderResidual();
            renderHeads();
            renderHeadDetail();
            renderNeurons();
            renderLens();
          }

          try {
            render();
            document.body.setAttribute("data-ready", "1");
          } catch (e) {
            fail(e);
          }
        })();
        """#
}
