// The report's timeline: decodes the embedded blob (see encode.go for its format) and draws the part of the run
// in view on a canvas. Every list is sorted by lane, then start, with a running maximum of the ends, so the items
// in view are found by binary search and a frame costs what is visible, not what the run holds.
(function () {
  "use strict";

  var OK = 0, FAIL = 1, INFO = 2, PENDING = 3;
  var END_RELEASED = 0, END_EXPIRED = 1, END_SUPERSEDED = 2;

  var body = document.body;
  var t0Init = performance.now();
  var D = JSON.parse(document.getElementById("timeline-data").textContent);
  if (D.v !== 2) { throw new Error("timeline data of version " + D.v + ", this page reads version 2"); }
  var lanes = D.lanes || [], keys = D.keys || [], texts = D.texts || [], faults = D.faults || [], marks = D.marks || [];
  // Stuck keys (the liveness verdict): each on its own row of the track, under the fault rows.
  var stuck = D.stuck || [];

  // ---------- decoding ----------

  function decode(src) {
    var n = src.t0.length, t0 = new Float64Array(n), t1 = new Float64Array(n), pm = new Float64Array(n);
    var acc = 0, i, l, j;
    for (i = 0; i < n; i++) { acc += src.t0[i]; t0[i] = acc; t1[i] = acc + src.d[i]; }
    for (l = 0; l + 1 < src.off.length; l++) {
      var m = -Infinity;
      for (j = src.off[l]; j < src.off[l + 1]; j++) { if (t1[j] > m) { m = t1[j]; } pm[j] = m; }
    }
    return { s: src, n: n, t0: t0, t1: t1, pm: pm, off: src.off };
  }
  var K = { acquire: decode(D.acquire), extend: decode(D.extend), release: decode(D.release), lease: decode(D.lease), cs: decode(D.cs) };

  // The servers' side (a node record): a lane per node, a row per lock key in it; holds and renewals are indexed
  // by row (node × keys + key) as the workers' items are by lane.
  var nodes = D.nodes || [], nodeKeys = D.node_keys || [], whoList = D.who || [];
  var nodeEvents = D.node_events || [], nodeDown = D.node_down || [];
  var NK = Math.max(nodeKeys.length, 1);
  K.hold = decode(D.hold || { off: [0], t0: [], d: [], owner: [], end: [], by: [] });
  K.renew = decode(D.renew || { off: [0], t0: [], d: [], by: [], hold: [] });
  var NODE_KINDS = { hold: 1, renew: 1, nodeev: 1, down: 1 };

  var END = Math.max(D.end, 1);
  var PAD = END * 0.01;
  var MIN_SPAN = 1000; // 1 µs

  // The first item of lane l that can reach into [a, …): its running maximum of ends is at least a.
  function firstFrom(k, l, a) {
    var lo = k.off[l], hi = k.off[l + 1];
    while (lo < hi) { var mid = (lo + hi) >> 1; if (k.pm[mid] < a) { lo = mid + 1; } else { hi = mid; } }
    return lo;
  }

  // holdMarks[hold index] = the marks whose pair it belongs to, with the part (A, B) and whether it was lost.
  var holdMarks = {};
  marks.forEach(function (m, mi) {
    (m.holds || []).forEach(function (h) { (holdMarks[h.hold] = holdMarks[h.hold] || []).push({ mi: mi, part: h.part, lost: h.lost }); });
  });

  // marked[cs index] = the mark numbers that outline it.
  var marked = {};
  marks.forEach(function (m, mi) {
    m.parts.forEach(function (p) { if (p.cs >= 0) { (marked[p.cs] = marked[p.cs] || []).push(mi); } });
  });
  var resolved = 0;
  marks.forEach(function (m) { m.parts.forEach(function (p) { if (p.lane >= 0 && p.cs >= 0) { resolved++; } }); });

  // ---------- formatting ----------

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmtT(ns) {
    var s = (ns / 1e9).toFixed(6).replace(/0{1,3}$/, "");
    return s + " s";
  }
  function fmtD(ns) {
    var a = Math.abs(ns), sign = ns < 0 ? "−" : "";
    if (a < 1e3) { return sign + a.toFixed(0) + " ns"; }
    if (a < 1e6) { return sign + (a / 1e3).toPrecision(3).replace(/\.?0+$/, "") + " µs"; }
    if (a < 1e9) { return sign + (a / 1e6).toPrecision(3).replace(/\.?0+$/, "") + " ms"; }
    return sign + (a / 1e9).toFixed(3).replace(/\.?0+$/, "") + " s";
  }
  function outName(o) { return ["ok", "failed", "indeterminate", "no completion"][o] || "?"; }
  function keyName(k) { return k >= 0 ? keys[k] : ""; }
  function text(i) { return i >= 0 ? texts[i] : ""; }
  function causeLabel(c) { return String(c || "violation").replace(/-/g, " "); }
  function whoName(i) { return i >= 0 ? whoList[i] : "an unnamed client"; }
  function rowName(row) { return "key " + (nodeKeys[row % NK] || "") + " on " + nodes[Math.floor(row / NK)]; }
  // How a hold ended, in a few words (on the timeline) and in a sentence (in its tooltip, as HTML).
  function endShort(i) {
    var s = K.hold.s, e = text(s.end[i]);
    switch (e) {
      case "deleted": case "overwritten": return e + " by " + whoName(s.by[i]);
      case "moved": return "failover";
      case "": return "held";
    }
    return e;
  }
  function endLong(i) {
    var k = K.hold, s = k.s, e = text(s.end[i]), at = " at " + fmtT(k.t1[i]);
    switch (e) {
      case "": return "still held when the record ends";
      case "expired": return "<span class=\"t-warn\">expired</span>" + at;
      case "deleted": case "overwritten": return "<span class=\"t-bad\">" + e + " by " + esc(whoName(s.by[i])) + "</span>" + at;
      case "restart": return "<span class=\"t-bad\">lost" + at + ": the node restarted without it</span>";
      case "moved": return "<span class=\"t-bad\">lost" + at + ": a replica without it was promoted in the node's place</span>";
    }
    return esc(e) + at;
  }

  // ---------- colours and styles ----------

  var C = {
    laneA: "#ffffff", laneB: "#f6f8fb", line: "#e3e6ea", grid: "rgba(60,64,67,0.09)", text: "#202124", muted: "#5f6368",
    acq: ["#34a853", "#b0b4ba", "#a142f4", "#c58af9"],
    ext: ["#12b5cb", "#ea8600", "#a142f4", "#c58af9"],
    rel: ["#5f6368", "#ea8600", "#a142f4", "#c58af9"],
    lease: "rgba(26,115,232,0.18)", leaseOpen: "rgba(26,115,232,0.09)", leaseEdge: "rgba(26,115,232,0.6)", leaseTail: "#e37400",
    csOK: "#1a73e8", csLate: "#e37400",
    viol: "#d93025", violBand: "rgba(217,48,37,0.16)", hover: "#202124",
    stuck: "#6d4c41", stuckLine: "rgba(109,76,65,0.55)",
    nodeHead: "#f1f3f4", renewal: "#d01884", nodeLine: "#7b1fa2", unowned: "#dadce0",
    endExpired: "#5f6368", endDeleted: "#d93025", endOverwritten: "#e8710a", endRestart: "#7b1fa2", endOther: "#202124"
  };
  // A holder's colour on the node lanes: the same worker is the same colour on every node.
  var OWNER_COLOURS = ["#8ab4f8", "#81c995", "#fdd663", "#f6aea9", "#c58af9", "#78d9ec", "#fcad70", "#aecbfa", "#bcaaa4", "#e6c9a8", "#a8dab5", "#fbbc04"];
  function ownerColour(o) { return o >= 0 ? OWNER_COLOURS[o % OWNER_COLOURS.length] : C.unowned; }
  var END_STYLES = { expired: "endExpired", deleted: "endDeleted", overwritten: "endOverwritten", restart: "endRestart", moved: "endRestart" };
  var FAULT_COLOURS = ["#f4b400", "#ab47bc", "#00acc1", "#ef6c00", "#5c6bc0", "#8d6e63", "#43a047", "#ec407a"];
  var faultNames = [];
  faults.forEach(function (f) { if (faultNames.indexOf(f.name) < 0) { faultNames.push(f.name); } });
  function faultColour(f) { return FAULT_COLOURS[faultNames.indexOf(f.name) % FAULT_COLOURS.length]; }
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }
  var laneIndex = {}, nodeIndex = {};
  lanes.forEach(function (w, i) { laneIndex[w] = i; });
  nodes.forEach(function (n, i) { nodeIndex[n] = i; });

  var canvas = document.getElementById("tl");
  var ctx = canvas.getContext("2d");
  var ov = document.getElementById("overview");
  var octx = ov.getContext("2d");
  var wrap = document.getElementById("canvas-wrap");
  var tip = document.getElementById("tip");

  function hatch(fg, bg) {
    var c = document.createElement("canvas");
    c.width = 6; c.height = 6;
    var g = c.getContext("2d");
    g.fillStyle = bg; g.fillRect(0, 0, 6, 6);
    g.strokeStyle = fg; g.lineWidth = 2;
    g.beginPath(); g.moveTo(-1, 7); g.lineTo(7, -1); g.moveTo(-1, 1); g.lineTo(1, -1); g.moveTo(5, 7); g.lineTo(7, 5); g.stroke();
    return ctx.createPattern(c, "repeat");
  }
  var P = {
    abandoned: hatch("#f9ab00", "#fef7e0"),
    fenced: hatch("#d01884", "#fde7f3"),
    unknown: hatch("#9aa0a6", "#f1f3f4"),
    stuck: hatch("#6d4c41", "#efebe9"),
    nodeDown: hatch("rgba(95,99,104,0.45)", "rgba(232,234,237,0.6)")
  };
  function csStyle(out, why) {
    if (out === OK) { return "csOK"; }
    if (out === FAIL) { return text(why) === "fenced" ? "fenced" : "abandoned"; }
    return "unknown";
  }
  function styleOf(name) { return P[name] || C[name] || name; }

  // ---------- layout ----------

  var LABEL_W = 78, RIGHT = 10, AXIS_H = 22, FAULT_ROW_H = 17, LANE_H = 30;
  var faultRows = 0;
  faults.forEach(function (f) { faultRows = Math.max(faultRows, f.row + 1); });
  var STUCK_ROW0 = faultRows; // the track's first stuck row
  var FAULT_H = Math.max(faultRows + stuck.length, 1) * FAULT_ROW_H + 4;
  var LANES_TOP = AXIS_H + FAULT_H;
  // Rows inside a lane, relative to its top.
  var OPS_Y = 3, OPS_H = 5, BAND_Y = 11, BAND_H = 16, CS_Y = 13, CS_H = 12;
  // Node lanes, under the workers' after a titled gap: a strip for the node's lifecycle, then a row per key.
  var NODE_HEAD = nodes.length ? 18 : 0, NODE_EV_H = 10, KEY_H = 14, NODE_H = NODE_EV_H + NK * KEY_H + 3;
  var NODES_TOP = LANES_TOP + Math.max(lanes.length, 1) * LANE_H + NODE_HEAD;
  function nodeY(n) { return NODES_TOP + n * NODE_H; }
  function rowY(row) { return nodeY(Math.floor(row / NK)) + NODE_EV_H + (row % NK) * KEY_H; }

  var W = 0, H = 0, plotW = 1, dpr = 1;
  var v0 = -PAD, v1 = END + PAD;
  var hover = null, selected = -1, selectedStuck = -1;

  function x(t) { return LABEL_W + (t - v0) / (v1 - v0) * plotW; }
  function tAt(px) { return v0 + (px - LABEL_W) / plotW * (v1 - v0); }

  function resize() {
    dpr = window.devicePixelRatio || 1;
    W = Math.max(wrap.clientWidth, 300);
    H = NODES_TOP + nodes.length * NODE_H + 4;
    plotW = Math.max(W - LABEL_W - RIGHT, 10);
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    canvas.style.height = H + "px";
    ov.width = Math.round(W * dpr); ov.height = Math.round(34 * dpr);
    density = null;
  }

  // ---------- batched rectangles ----------
  // Items are gathered per style and filled with one path per style; an item that starts where the previous one
  // of its style and row ended is merged into it, so a zoomed-out lane of thousands of items is a few rectangles.

  var batches = {};
  function rect(style, x0, y, x1, h) {
    if (x1 < LABEL_W || x0 > W - RIGHT) { return; }
    x0 = Math.max(x0, LABEL_W - 1); x1 = Math.min(x1, W - RIGHT + 1);
    if (x1 - x0 < 1) { x1 = x0 + 1; }
    var b = batches[style] || (batches[style] = []);
    var n = b.length;
    if (n && b[n - 3] === y && b[n - 4] + b[n - 2] >= x0 - 0.5 && b[n - 1] === h) {
      b[n - 2] = Math.max(b[n - 2], x1 - b[n - 4]);
      return;
    }
    b.push(x0, y, x1 - x0, h);
  }
  function flush() {
    for (var s in batches) {
      var b = batches[s];
      if (!b.length) { continue; }
      ctx.fillStyle = styleOf(s);
      ctx.beginPath();
      for (var i = 0; i < b.length; i += 4) { ctx.rect(b[i], b[i + 1], b[i + 2], b[i + 3]); }
      ctx.fill();
    }
    batches = {};
  }

  // ---------- drawing ----------

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / p;
    return p * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
  }

  var lastFrame = { lanes: 0, outlined: 0 };

  function draw() {
    var started = performance.now();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    var l, i, k, y;

    // Lane backgrounds.
    for (l = 0; l < lanes.length; l++) {
      ctx.fillStyle = l % 2 ? C.laneB : C.laneA;
      ctx.fillRect(LABEL_W, LANES_TOP + l * LANE_H, plotW, LANE_H);
    }
    drawNodeBackgrounds();

    // Fault windows: shaded across every lane, the targeted lanes more.
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, 0, plotW, H); ctx.clip();
    faults.forEach(function (f) {
      var a = x(f.from), b = x(f.to);
      if (b < LABEL_W || a > W - RIGHT) { return; }
      var col = faultColour(f);
      ctx.fillStyle = rgba(col, 0.11);
      ctx.fillRect(a, AXIS_H, Math.max(b - a, 1), H - AXIS_H);
      (f.targets || []).forEach(function (t) {
        var li = laneIndex[t];
        if (li !== undefined) { ctx.fillStyle = rgba(col, 0.22); ctx.fillRect(a, LANES_TOP + li * LANE_H, Math.max(b - a, 1), LANE_H); }
        var ni = nodeIndex[t];
        if (ni !== undefined) { ctx.fillStyle = rgba(col, 0.22); ctx.fillRect(a, nodeY(ni), Math.max(b - a, 1), NODE_H); }
      });
      if (b - a >= 6) { // edges only where they help: a window a few pixels wide is its shading
        ctx.strokeStyle = rgba(col, 0.7); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(Math.round(a) + 0.5, AXIS_H); ctx.lineTo(Math.round(a) + 0.5, H);
        if (f.healed) { ctx.moveTo(Math.round(b) - 0.5, AXIS_H); ctx.lineTo(Math.round(b) - 0.5, H); }
        ctx.stroke();
      }
    });

    drawStuckEdges();

    // Grid.
    var step = niceStep((v1 - v0) * 110 / plotW);
    var dec = Math.min(9, Math.max(0, Math.ceil(-Math.log10(step / 1e9) - 1e-9)));
    ctx.strokeStyle = C.grid; ctx.lineWidth = 1;
    ctx.beginPath();
    for (var t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      var gx = Math.round(x(t)) + 0.5;
      ctx.moveTo(gx, AXIS_H - 4); ctx.lineTo(gx, H);
    }
    ctx.stroke();

    // Leases, attempts and critical sections, lane by lane, only what is in view.
    var tMin = tAt(LABEL_W - 2), tMax = tAt(W);
    var tails = [];
    for (l = 0; l < lanes.length; l++) {
      y = LANES_TOP + l * LANE_H;
      k = K.lease;
      for (i = firstFrom(k, l, tMin); i < k.off[l + 1] && k.t0[i] <= tMax; i++) {
        if (k.t1[i] < tMin) { continue; }
        rect(k.s.end[i] === 3 ? "leaseOpen" : "lease", x(k.t0[i]), y + BAND_Y, x(k.t1[i]), BAND_H);
        rect("leaseEdge", x(k.t0[i]), y + BAND_Y, x(k.t1[i]), 2);
        var rel = k.s.rel[i];
        if (k.s.end[i] === END_EXPIRED && rel !== null && k.t0[i] + rel > k.t1[i]) { tails.push(x(k.t1[i]), x(k.t0[i] + rel), y + BAND_Y + BAND_H / 2); }
      }
      drawAttempts(K.acquire, "acq", l, y, tMin, tMax);
      drawAttempts(K.extend, "ext", l, y, tMin, tMax);
      drawAttempts(K.release, "rel", l, y, tMin, tMax);
      k = K.cs;
      for (i = firstFrom(k, l, tMin); i < k.off[l + 1] && k.t0[i] <= tMax; i++) {
        if (k.t1[i] < tMin) { continue; }
        var a = x(k.t0[i]), b = x(k.t1[i]);
        rect(csStyle(k.s.out[i], k.s.why[i]), a, y + CS_Y, b, CS_H);
        var vw = k.s.vw[i];
        if (k.s.out[i] === OK && vw !== null && vw < 0) {
          rect("csLate", Math.max(a, x(k.t1[i] + vw)), y + CS_Y, b, CS_H);
        }
      }
    }
    flush();

    // A lease that ran out before its holder released it: a dashed line from ValidUntil to the release.
    if (tails.length) {
      ctx.strokeStyle = C.leaseTail; ctx.lineWidth = 1.5; ctx.setLineDash([3, 3]);
      ctx.beginPath();
      for (i = 0; i < tails.length; i += 3) { ctx.moveTo(tails[i], tails[i + 2]); ctx.lineTo(tails[i + 1], tails[i + 2]); }
      ctx.stroke(); ctx.setLineDash([]);
    }
    var holdsDrawn = drawNodeItems(tMin, tMax);

    // Violating pairs: the overlap shaded, each section outlined, the pair joined and named.
    var outlined = 0;
    marks.forEach(function (m, mi) {
      var parts = m.parts.filter(function (p) { return p.lane >= 0; });
      if (!parts.length) { return; }
      var sel = mi === selected;
      var ys = parts.map(function (p) { return LANES_TOP + p.lane * LANE_H; });
      var yTop = Math.min.apply(null, ys), yBot = Math.max.apply(null, ys) + LANE_H;
      if (m.to > m.from) {
        var oa = x(m.from), ob = x(m.to);
        ctx.fillStyle = C.violBand;
        ctx.fillRect(oa, yTop + 2, Math.max(ob - oa, 2), yBot - yTop - 4);
      }
      ctx.strokeStyle = C.viol; ctx.lineWidth = sel ? 3 : 2;
      var labelX = Infinity, labelY = 0;
      parts.forEach(function (p, pi) {
        var a = x(p.t0), b = x(p.t1);
        if (b - a < 6) { var c = (a + b) / 2; a = c - 3; b = c + 3; }
        if (b < LABEL_W - 4 || a > W) { return; }
        outlined++;
        ctx.strokeRect(a - 1.5, ys[pi] + CS_Y - 2.5, b - a + 3, CS_H + 5);
        if (a < labelX) { labelX = a; labelY = ys[pi]; }
      });
      if (parts.length > 1) {
        var jx = x(Math.max(m.from, Math.min(parts[0].t1, parts[1].t1)));
        if (m.to > m.from) { jx = x((m.from + m.to) / 2); }
        ctx.beginPath(); ctx.setLineDash([4, 3]);
        ctx.moveTo(jx, ys[0] + CS_Y + CS_H / 2); ctx.lineTo(jx, ys[1] + CS_Y + CS_H / 2);
        ctx.stroke(); ctx.setLineDash([]);
      }
      if (labelX < Infinity) {
        var label = "V" + m.n;
        ctx.font = "bold 11px system-ui, sans-serif";
        var lw = ctx.measureText(label).width + 8;
        var lx = Math.max(LABEL_W + 1, labelX - lw - 4);
        ctx.fillStyle = C.viol;
        ctx.fillRect(lx, labelY + CS_Y - 1, lw, 14);
        ctx.fillStyle = "#fff"; ctx.textBaseline = "middle";
        ctx.fillText(label, lx + 4, labelY + CS_Y + 6);
      }
    });
    var nodeHi = drawNodeMarks();

    // The hovered item.
    if (hover && hover.kind === "hold") {
      var hh = K.hold, hy0 = rowY(hover.lane), hx0 = x(hh.t0[hover.i]), hx1 = Math.max(x(hh.t1[hover.i]), hx0 + 1);
      ctx.strokeStyle = C.hover; ctx.lineWidth = 1.5;
      ctx.strokeRect(hx0 - 1, hy0, hx1 - hx0 + 2, KEY_H - 1);
    } else if (hover && hover.kind !== "fault" && hover.kind !== "stuck" && !NODE_KINDS[hover.kind]) {
      var hk = K[hover.kind], hy = LANES_TOP + hover.lane * LANE_H;
      var ry = hover.kind === "cs" ? CS_Y : hover.kind === "lease" ? BAND_Y : OPS_Y;
      var rh = hover.kind === "cs" ? CS_H : hover.kind === "lease" ? BAND_H : OPS_H;
      ctx.strokeStyle = C.hover; ctx.lineWidth = 1.5;
      var ha = x(hk.t0[hover.i]), hb = Math.max(x(hk.t1[hover.i]), ha + 1);
      ctx.strokeRect(ha - 1, hy + ry - 1.5, hb - ha + 2, rh + 3);
    }
    ctx.restore();

    // Time axis.
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, AXIS_H);
    ctx.strokeStyle = C.line; ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(W, AXIS_H - 0.5); ctx.stroke();
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = C.muted; ctx.textBaseline = "middle"; ctx.textAlign = "center";
    for (t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      var tx = x(t);
      if (tx < LABEL_W + 14 || tx > W - 24) { continue; }
      ctx.fillText((Math.abs(t) < step / 2 ? 0 : t / 1e9).toFixed(dec) + " s", tx, AXIS_H / 2);
    }
    ctx.textAlign = "left";

    // Fault track: one chip per window with its name and targets.
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, plotW, FAULT_H); ctx.clip();
    ctx.font = "11px system-ui, sans-serif";
    faults.forEach(function (f) {
      var a = x(f.from), b = x(f.to), fy = AXIS_H + 2 + f.row * FAULT_ROW_H;
      if (b < LABEL_W || a > W - RIGHT) { return; }
      var col = faultColour(f);
      ctx.fillStyle = rgba(col, 0.85);
      ctx.fillRect(a, fy, Math.max(b - a, 2), FAULT_ROW_H - 3);
      var label = f.name + (f.targets && f.targets.length ? " " + f.targets.join(" ") : "") + (f.healed ? "" : " (not healed)");
      var ta = Math.max(a, LABEL_W) + 4;
      var room = Math.min(b, W - RIGHT) - ta - 2;
      if (room > 14) {
        ctx.save(); ctx.beginPath(); ctx.rect(ta, fy, room, FAULT_ROW_H); ctx.clip();
        ctx.fillStyle = "#fff"; ctx.font = "bold 11px system-ui, sans-serif";
        ctx.fillText(label, ta, fy + (FAULT_ROW_H - 3) / 2 + 0.5);
        ctx.restore();
      }
    });
    var stuckDrawn = drawStuckTrack();
    ctx.restore();
    ctx.strokeStyle = C.line; ctx.beginPath(); ctx.moveTo(0, LANES_TOP - 0.5); ctx.lineTo(W, LANES_TOP - 0.5); ctx.stroke();

    // Lane labels.
    ctx.fillStyle = "#fff"; ctx.fillRect(0, AXIS_H, LABEL_W, H - AXIS_H);
    ctx.fillStyle = C.muted; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    if (!stuck.length) {
      ctx.fillText("faults", 8, AXIS_H + FAULT_H / 2);
    } else {
      if (faultRows) { ctx.fillText("faults", 8, AXIS_H + 2 + faultRows * FAULT_ROW_H / 2); }
      ctx.fillStyle = C.stuck;
      ctx.fillText("stuck", 8, AXIS_H + 2 + (STUCK_ROW0 + stuck.length / 2) * FAULT_ROW_H);
    }
    ctx.font = "600 12px ui-monospace, Menlo, Consolas, monospace";
    for (l = 0; l < lanes.length; l++) {
      y = LANES_TOP + l * LANE_H;
      ctx.fillStyle = C.text;
      ctx.fillText(lanes[l], 8, y + LANE_H / 2);
      ctx.strokeStyle = C.line; ctx.beginPath(); ctx.moveTo(0, y + LANE_H - 0.5); ctx.lineTo(W, y + LANE_H - 0.5); ctx.stroke();
    }
    drawNodeLabels();
    ctx.strokeStyle = C.line; ctx.beginPath(); ctx.moveTo(LABEL_W - 0.5, 0); ctx.lineTo(LABEL_W - 0.5, H); ctx.stroke();
    if (!lanes.length) {
      ctx.fillStyle = C.muted; ctx.font = "13px system-ui, sans-serif";
      ctx.fillText("The history has no operations to draw.", LABEL_W + 12, LANES_TOP + LANE_H / 2);
    }

    drawOverview();
    document.getElementById("range").textContent = fmtT(Math.max(v0, 0)) + " – " + fmtT(Math.min(v1, END)) +
      "  ·  " + fmtD(v1 - v0) + " in view  ·  ×" + ((END + 2 * PAD) / (v1 - v0)).toPrecision(3).replace(/\.?0+$/, "");
    lastFrame = { lanes: lanes.length, outlined: outlined, ms: performance.now() - started };
    body.setAttribute("data-lanes", String(lastFrame.lanes));
    body.setAttribute("data-outlined", String(outlined));
    body.setAttribute("data-stuck-drawn", String(stuckDrawn));
    body.setAttribute("data-node-lanes", String(nodes.length));
    body.setAttribute("data-holds-in-view", String(holdsDrawn.inView));
    body.setAttribute("data-holds-drawn", String(holdsDrawn.bars));
    body.setAttribute("data-node-highlighted", String(nodeHi.outlined));
    body.setAttribute("data-node-lost", String(nodeHi.lost));
    body.setAttribute("data-draw-ms", lastFrame.ms.toFixed(1));
  }

  // Stuck keys across the lanes: a dashed line where each stuck span begins and, if it does, ends.
  function drawStuckEdges() {
    if (!stuck.length) { return; }
    ctx.strokeStyle = C.stuckLine; ctx.lineWidth = 1; ctx.setLineDash([5, 4]);
    ctx.beginPath();
    stuck.forEach(function (st) {
      [st.from, st.to < END ? st.to : null].forEach(function (t) {
        if (t === null) { return; }
        var sx = Math.round(x(t)) + 0.5;
        if (sx >= LABEL_W && sx <= W - RIGHT) { ctx.moveTo(sx, LANES_TOP); ctx.lineTo(sx, H); }
      });
    });
    ctx.stroke(); ctx.setLineDash([]);
  }

  // The stuck keys on the track: one hatched span a row, named S1, S2, … with its key. Returns how many are in view.
  function drawStuckTrack() {
    var drawn = 0;
    ctx.font = "bold 11px system-ui, sans-serif";
    stuck.forEach(function (st, si) {
      var a = x(st.from), b = Math.max(x(st.to), a + 2), fy = AXIS_H + 2 + (STUCK_ROW0 + si) * FAULT_ROW_H;
      if (b < LABEL_W || a > W - RIGHT) { return; }
      drawn++;
      ctx.fillStyle = P.stuck;
      ctx.fillRect(a, fy, b - a, FAULT_ROW_H - 3);
      ctx.strokeStyle = C.stuck; ctx.lineWidth = si === selectedStuck ? 2.5 : 1;
      ctx.strokeRect(a + 0.5, fy + 0.5, b - a - 1, FAULT_ROW_H - 4);
      var label = "S" + st.n + " " + st.key + " stuck";
      var ta = Math.max(a, LABEL_W) + 4, room = Math.min(b, W - RIGHT) - ta - 2;
      if (room > 14) {
        var lw = Math.min(ctx.measureText(label).width + 6, room);
        ctx.save(); ctx.beginPath(); ctx.rect(ta - 2, fy, room + 2, FAULT_ROW_H); ctx.clip();
        ctx.fillStyle = C.stuck; ctx.fillRect(ta - 2, fy + 1, lw, FAULT_ROW_H - 5);
        ctx.fillStyle = "#fff"; ctx.textBaseline = "middle";
        ctx.fillText(label, ta + 1, fy + (FAULT_ROW_H - 3) / 2 + 0.5);
        ctx.restore();
      }
    });
    return drawn;
  }

  function drawAttempts(k, colours, l, y, tMin, tMax) {
    var pal = C[colours];
    for (var i = firstFrom(k, l, tMin); i < k.off[l + 1] && k.t0[i] <= tMax; i++) {
      if (k.t1[i] < tMin) { continue; }
      rect(pal[k.s.out[i]], x(k.t0[i]), y + OPS_Y, x(k.t1[i]), OPS_H);
    }
  }

  // ---------- node lanes ----------

  // Node lanes' backgrounds, the title of their block, and each node's down stretches hatched across its lane.
  function drawNodeBackgrounds() {
    if (!nodes.length) { return; }
    ctx.fillStyle = C.nodeHead; ctx.fillRect(0, NODES_TOP - NODE_HEAD, W, NODE_HEAD);
    ctx.fillStyle = C.muted; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    ctx.fillText("lock servers: each key's holder as the node itself saw it (nodes.jsonl)", LABEL_W + 6, NODES_TOP - NODE_HEAD / 2);
    for (var n = 0; n < nodes.length; n++) {
      ctx.fillStyle = n % 2 ? C.laneB : C.laneA;
      ctx.fillRect(LABEL_W, nodeY(n), plotW, NODE_H);
    }
    ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, NODES_TOP, plotW, H - NODES_TOP); ctx.clip();
    ctx.fillStyle = P.nodeDown;
    nodeDown.forEach(function (d) {
      var a = x(d.from), b = Math.max(x(d.to), a + 2);
      if (b >= LABEL_W && a <= W - RIGHT) { ctx.fillRect(a, nodeY(d.node), b - a, NODE_H); }
    });
    ctx.restore();
  }

  // Holds in view, row by row: a bar in its holder's colour, a cap at its end in the colour of how it ended, a tick
  // for each renewal by another client, the holder's name when the bar has room, and the lifecycle markers. Zoomed
  // out, a hold that falls in a pixel column a bar already covers is not drawn again, and caps are left to bars
  // wide enough to show them, so a frame costs what the screen can show. Returns how many holds are in view and how
  // many bars were drawn.
  function drawNodeItems(tMin, tMax) {
    var k = K.hold, r = K.renew, inView = 0, bars = 0, names = [], caps = [], row, i, y;
    for (row = 0; row < nodes.length * NK; row++) {
      y = rowY(row) + 2;
      var covered = -Infinity;
      for (i = firstFrom(k, row, tMin); i < k.off[row + 1] && k.t0[i] <= tMax; i++) {
        if (k.t1[i] < tMin) { continue; }
        inView++;
        var a = x(k.t0[i]), b = x(k.t1[i]);
        if (b <= covered) { continue; }
        rect(ownerColour(k.s.owner[i]), a, y, b, KEY_H - 4);
        bars++;
        covered = Math.max(covered, a + 1, b);
        if (b - a > 44) { names.push(a, b, y, k.s.owner[i]); }
        if (k.s.end[i] >= 0 && b - a >= 6) { caps.push(b, y - 1, END_STYLES[text(k.s.end[i])] || "endOther"); }
      }
    }
    flush();
    for (i = 0; i < caps.length; i += 3) { rect(caps[i + 2], caps[i] - 3, caps[i + 1], caps[i], KEY_H - 2); }
    for (row = 0; row < nodes.length * NK; row++) {
      y = rowY(row);
      for (i = firstFrom(r, row, tMin); i < r.off[row + 1] && r.t0[i] <= tMax; i++) {
        var rx = x(r.t0[i]);
        rect("renewal", rx - 1, y, rx + 1, KEY_H);
      }
    }
    flush();
    ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = C.text; ctx.textBaseline = "middle";
    for (i = 0; i < names.length; i += 4) {
      var ta = Math.max(names[i], LABEL_W) + 3, room = Math.min(names[i + 1], W - RIGHT) - ta - 5;
      if (room < 20) { continue; }
      ctx.save(); ctx.beginPath(); ctx.rect(ta, names[i + 2], room, KEY_H - 4); ctx.clip();
      ctx.fillText(whoName(names[i + 3]), ta, names[i + 2] + (KEY_H - 4) / 2 + 0.5);
      ctx.restore();
    }
    drawNodeEvents();
    return { inView: inView, bars: bars };
  }

  // Lifecycle markers on each node's strip: a dot per event, and a dashed line across the lane where a restart or a
  // failover emptied it.
  function drawNodeEvents() {
    var colours = { up: "#188038", down: "#d93025", restart: C.nodeLine, moved: C.nodeLine, note: "#1a73e8" };
    nodeEvents.forEach(function (e) {
      var ex = x(e.t), y = nodeY(e.node);
      if (ex < LABEL_W - 4 || ex > W - RIGHT + 4) { return; }
      if (e.kind === "restart" || e.kind === "moved") {
        ctx.strokeStyle = C.nodeLine; ctx.lineWidth = 1.5; ctx.setLineDash([3, 2]);
        ctx.beginPath(); ctx.moveTo(ex, y + NODE_EV_H / 2); ctx.lineTo(ex, y + NODE_H); ctx.stroke(); ctx.setLineDash([]);
      }
      ctx.fillStyle = colours[e.kind] || C.muted;
      ctx.beginPath();
      if (e.kind === "note") { ctx.moveTo(ex, y + 1); ctx.lineTo(ex + 4, y + NODE_EV_H / 2); ctx.lineTo(ex, y + NODE_EV_H - 1); ctx.lineTo(ex - 4, y + NODE_EV_H / 2); }
      else { ctx.arc(ex, y + NODE_EV_H / 2, 3.5, 0, 2 * Math.PI); }
      ctx.fill();
    });
  }

  // The violating pairs on the node lanes: each holder's hold outlined and tagged V1 A, V1 B; where the first
  // holder lost its lock before the second took it, that end ringed and named. Returns what was drawn.
  function drawNodeMarks() {
    var k = K.hold, out = { outlined: 0, lost: 0 };
    ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, NODES_TOP, plotW, H - NODES_TOP); ctx.clip();
    marks.forEach(function (m, mi) {
      (m.holds || []).forEach(function (h) {
        var row = holdRow(h.hold), y = rowY(row), a = x(k.t0[h.hold]), b = Math.max(x(k.t1[h.hold]), a + 2);
        if (b < LABEL_W - 4 || a > W) { return; }
        out.outlined++;
        ctx.strokeStyle = C.viol; ctx.lineWidth = mi === selected ? 3 : 2;
        ctx.strokeRect(a - 1, y + 0.5, b - a + 2, KEY_H - 1);
        highlightRenewals(h.hold, row);
        drawHoldTag(m, h, a, b, y);
        if (h.lost && x(k.t1[h.hold]) <= W - RIGHT) { drawLost(h.hold, y); out.lost++; }
      });
    });
    ctx.restore();
    return out;
  }

  // A highlighted hold's tag inside its bar: "V1 A g1w10", or "V1 A" when that does not fit, or none.
  function drawHoldTag(m, h, a, b, y) {
    var part = "AB".charAt(h.part), tags = ["V" + m.n + " " + part + " " + whoName(K.hold.s.owner[h.hold]), "V" + m.n + " " + part];
    var ta = Math.max(a, LABEL_W) + 2, room = Math.min(b, W - RIGHT) - ta - 2;
    ctx.font = "bold 10px system-ui, sans-serif";
    for (var j = 0; j < tags.length; j++) {
      var tw = ctx.measureText(tags[j]).width + 6;
      if (tw > room) { continue; }
      ctx.fillStyle = C.viol; ctx.fillRect(ta, y + 2, tw, KEY_H - 4);
      ctx.fillStyle = "#fff"; ctx.textBaseline = "middle"; ctx.fillText(tags[j], ta + 3, y + KEY_H / 2);
      return;
    }
  }

  // The end that took the first holder's lock: a red ring with how it ended beside it.
  function drawLost(i, y) {
    var e = x(K.hold.t1[i]), cy = y + KEY_H / 2, label = endShort(i);
    ctx.strokeStyle = C.viol; ctx.lineWidth = 2.5;
    ctx.beginPath(); ctx.arc(e, cy, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.font = "bold 10px system-ui, sans-serif";
    var lw = ctx.measureText(label).width + 6;
    ctx.fillStyle = "#fff"; ctx.fillRect(e + 9, cy - 6, lw, 12);
    ctx.fillStyle = C.viol; ctx.textBaseline = "middle"; ctx.fillText(label, e + 12, cy + 0.5);
  }

  // The renewals of a highlighted hold by other clients, drawn taller in the violation's colour.
  function highlightRenewals(hi, row) {
    var r = K.renew, k = K.hold;
    for (var i = firstFrom(r, row, k.t0[hi]); i < r.off[row + 1] && r.t0[i] <= k.t1[hi]; i++) {
      if (r.s.hold[i] !== hi) { continue; }
      var rx = x(r.t0[i]), y = rowY(row);
      ctx.fillStyle = C.viol; ctx.fillRect(rx - 1.5, y - 3, 3, KEY_H + 4);
    }
  }

  // Which row a hold is on: the row whose range of indices holds it.
  function holdRow(i) {
    var off = K.hold.off, lo = 0, hi = off.length - 2;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (off[mid] <= i) { lo = mid; } else { hi = mid - 1; } }
    return lo;
  }

  // Node names and key names in the label column, kept inside it.
  function drawNodeLabels() {
    if (!nodes.length) { return; }
    ctx.save(); ctx.beginPath(); ctx.rect(0, NODES_TOP - NODE_HEAD, LABEL_W - 1, H); ctx.clip();
    ctx.fillStyle = C.nodeHead; ctx.fillRect(0, NODES_TOP - NODE_HEAD, LABEL_W, NODE_HEAD);
    ctx.fillStyle = C.muted; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    ctx.fillText("servers", 8, NODES_TOP - NODE_HEAD / 2);
    for (var n = 0; n < nodes.length; n++) {
      var y = nodeY(n);
      ctx.fillStyle = C.text; ctx.font = "600 12px ui-monospace, Menlo, Consolas, monospace"; ctx.textAlign = "left";
      ctx.fillText(nodes[n], 8, y + NODE_EV_H + KEY_H / 2);
      ctx.fillStyle = C.muted; ctx.font = "10px ui-monospace, Menlo, Consolas, monospace"; ctx.textAlign = "right";
      for (var kk = 0; kk < nodeKeys.length; kk++) { ctx.fillText(nodeKeys[kk], LABEL_W - 5, y + NODE_EV_H + kk * KEY_H + KEY_H / 2); }
      ctx.textAlign = "left";
    }
    ctx.restore();
    ctx.strokeStyle = C.line; ctx.beginPath();
    for (n = 0; n < nodes.length; n++) { ctx.moveTo(0, nodeY(n) + NODE_H - 0.5); ctx.lineTo(W, nodeY(n) + NODE_H - 0.5); }
    ctx.stroke();
  }

  // ---------- overview ----------

  var density = null;
  function drawOverview() {
    var w = W, h = 34;
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.fillStyle = "#fbfbfc"; octx.fillRect(0, 0, w, h);
    var ox = function (t) { return LABEL_W + (t + PAD) / (END + 2 * PAD) * plotW; };
    faults.forEach(function (f) {
      octx.fillStyle = rgba(faultColour(f), 0.25);
      octx.fillRect(ox(f.from), 0, Math.max(ox(f.to) - ox(f.from), 1), h);
    });
    if (!density) {
      density = new Float64Array(Math.ceil(plotW) + 1);
      var k = K.cs;
      for (var i = 0; i < k.n; i++) {
        var c = Math.floor(ox(k.t0[i]) - LABEL_W);
        if (c >= 0 && c < density.length) { density[c]++; }
      }
      density.max = 0;
      for (i = 0; i < density.length; i++) { density.max = Math.max(density.max, density[i]); }
    }
    if (density.max > 0) {
      octx.fillStyle = "rgba(26,115,232,0.45)";
      for (var c2 = 0; c2 < density.length; c2++) {
        if (!density[c2]) { continue; }
        var bh = Math.max(1, Math.sqrt(density[c2] / density.max) * (h - 6));
        octx.fillRect(LABEL_W + c2, h - bh, 1, bh);
      }
    }
    octx.fillStyle = C.viol;
    marks.forEach(function (m) { octx.fillRect(ox(m.from) - 1, 0, 3, h); });
    octx.fillStyle = C.stuck;
    stuck.forEach(function (st) { octx.fillRect(ox(st.from), h - 4, Math.max(ox(st.to) - ox(st.from), 2), 4); });
    var a = ox(v0), b = ox(v1);
    octx.fillStyle = "rgba(32,33,36,0.12)";
    octx.fillRect(LABEL_W, 0, Math.max(a - LABEL_W, 0), h);
    octx.fillRect(b, 0, Math.max(LABEL_W + plotW - b, 0), h);
    octx.strokeStyle = "#1a73e8"; octx.lineWidth = 1.5;
    octx.strokeRect(a, 1, Math.max(b - a, 2), h - 2);
    octx.fillStyle = C.muted; octx.font = "11px system-ui, sans-serif"; octx.textBaseline = "middle";
    octx.fillText("whole run", 8, h / 2);
  }

  // ---------- view ----------

  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; draw(); });
  }
  function setView(a, b) {
    var span = Math.min(Math.max(b - a, MIN_SPAN), END + 2 * PAD);
    var c = (a + b) / 2;
    a = c - span / 2; b = c + span / 2;
    if (a < -PAD) { b += -PAD - a; a = -PAD; }
    if (b > END + PAD) { a -= b - END - PAD; b = END + PAD; }
    v0 = Math.max(a, -PAD); v1 = b;
    schedule();
  }
  function zoom(f, at) {
    if (at === undefined) { at = (v0 + v1) / 2; }
    setView(at - (at - v0) * f, at + (v1 - at) * f);
  }
  function pan(px) { var dt = px / plotW * (v1 - v0); setView(v0 + dt, v1 + dt); }

  function showStuck(si, scroll) {
    var st = stuck[si];
    if (!st) { return; }
    var pad = Math.max((st.to - st.from) * 0.08, 2e6);
    selected = -1; selectedStuck = si;
    setView(st.from - pad, st.to + pad);
    if (scroll) { document.getElementById("timeline").scrollIntoView({ behavior: "smooth", block: "start" }); }
  }

  function showMark(mi, scroll) {
    var m = marks[mi];
    if (!m) { return; }
    var lo = Infinity, hi = -Infinity;
    m.parts.forEach(function (p) { lo = Math.min(lo, p.t0); hi = Math.max(hi, p.t1); });
    (m.holds || []).forEach(function (h) {
      var t = h.lost ? K.hold.t1[h.hold] : h.part === 1 ? K.hold.t0[h.hold] : null;
      if (t !== null) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
    });
    var pad = Math.max((hi - lo) * 0.3, 2e6);
    selected = mi; selectedStuck = -1;
    setView(lo - pad, hi + pad);
    if (scroll) { document.getElementById("timeline").scrollIntoView({ behavior: "smooth", block: "start" }); }
  }

  // ---------- hit testing and tooltips ----------

  function find(k, l, t, tol) {
    var best = -1, bestLen = Infinity;
    for (var i = firstFrom(k, l, t - tol); i < k.off[l + 1] && k.t0[i] <= t + tol; i++) {
      if (k.t1[i] < t - tol) { continue; }
      var len = k.t1[i] - k.t0[i];
      if (len < bestLen) { best = i; bestLen = len; }
    }
    return best;
  }
  function hit(px, py) {
    var t = tAt(px), tol = 4 / plotW * (v1 - v0);
    if (px < LABEL_W) { return null; }
    if (py >= AXIS_H && py < LANES_TOP) {
      var row = Math.floor((py - AXIS_H - 2) / FAULT_ROW_H);
      for (var fi = 0; fi < faults.length; fi++) {
        var f = faults[fi];
        if (f.row === row && f.from - tol <= t && t <= f.to + tol) { return { kind: "fault", i: fi, t: t }; }
      }
      var st = stuck[row - STUCK_ROW0];
      if (st && st.from - tol <= t && t <= st.to + tol) { return { kind: "stuck", i: row - STUCK_ROW0, t: t }; }
      return null;
    }
    if (py >= NODES_TOP && nodes.length) { return hitNode(py, t, tol); }
    var l = Math.floor((py - LANES_TOP) / LANE_H);
    if (l < 0 || l >= lanes.length) { return null; }
    var dy = py - LANES_TOP - l * LANE_H, i;
    if (dy < BAND_Y - 1) {
      var kinds = ["acquire", "extend", "release"];
      for (var ki = 0; ki < kinds.length; ki++) {
        i = find(K[kinds[ki]], l, t, tol);
        if (i >= 0) { return { kind: kinds[ki], lane: l, i: i, t: t }; }
      }
      return null;
    }
    i = find(K.cs, l, t, tol);
    if (i >= 0 && dy >= CS_Y - 2 && dy <= CS_Y + CS_H + 2) { return { kind: "cs", lane: l, i: i, t: t }; }
    i = find(K.lease, l, t, tol);
    if (i >= 0) { return { kind: "lease", lane: l, i: i, t: t }; }
    i = find(K.cs, l, t, tol);
    if (i >= 0) { return { kind: "cs", lane: l, i: i, t: t }; }
    return null;
  }

  // On a node lane: a lifecycle marker on its strip, else a renewal tick or a hold on a key's row, else the node's
  // down stretch.
  function hitNode(py, t, tol) {
    var n = Math.floor((py - NODES_TOP) / NODE_H), i;
    if (n < 0 || n >= nodes.length) { return null; }
    var dy = py - nodeY(n), best = -1, bd = Infinity;
    if (dy < NODE_EV_H) {
      nodeEvents.forEach(function (e, ei) {
        var d = Math.abs(e.t - t);
        if (e.node === n && d <= 2 * tol && d < bd) { best = ei; bd = d; }
      });
      if (best >= 0) { return { kind: "nodeev", i: best, t: t }; }
    }
    var kr = Math.floor((dy - NODE_EV_H) / KEY_H);
    if (dy >= NODE_EV_H && kr < NK) {
      var row = n * NK + kr;
      i = find(K.renew, row, t, tol);
      if (i >= 0) { return { kind: "renew", lane: row, i: i, t: t }; }
      i = find(K.hold, row, t, tol);
      if (i >= 0) { return { kind: "hold", lane: row, i: i, t: t }; }
    }
    for (i = 0; i < nodeDown.length; i++) {
      if (nodeDown[i].node === n && nodeDown[i].from <= t && t <= nodeDown[i].to) { return { kind: "down", i: i, t: t }; }
    }
    return null;
  }

  function activeFaults(t) {
    return faults.filter(function (f) { return f.from <= t && t <= f.to; }).map(function (f) {
      return esc(f.name) + (f.targets && f.targets.length ? " <span class=\"t-dim\">" + esc(f.targets.join(" ")) + "</span>" : "");
    });
  }

  function describe(h) {
    var out = [], k, i, s;
    if (h.kind === "fault") {
      var f = faults[h.i];
      out.push("<b>fault " + esc(f.name) + "</b>");
      if (f.targets && f.targets.length) { out.push("targets: " + esc(f.targets.join(", "))); }
      out.push("injected " + fmtT(f.from) + (f.healed ? ", healed " + fmtT(f.to) + " (" + fmtD(f.to - f.from) + ")" : ", <span class=\"t-warn\">never healed</span> (to the end of the run)"));
      return out.join("<br>");
    }
    if (h.kind === "stuck") { return describeStuck(stuck[h.i]); }
    if (NODE_KINDS[h.kind]) { return [describeNode(h)].concat(faultsAt(h.t)).join("<br>"); }
    k = K[h.kind]; i = h.i; s = k.s;
    var who = esc(lanes[h.lane]) + (keyName(s.key[i]) ? " · key " + esc(keyName(s.key[i])) : "");
    if (h.kind === "cs") {
      out.push("<b>critical section #" + s.id[i] + "</b> · " + who);
      out.push("read " + (s.read[i] !== null ? s.read[i] : "?") + " at " + fmtT(k.t0[i]));
      var o = s.out[i];
      if (o === OK) {
        out.push("wrote " + (s.wrote[i] !== null ? s.wrote[i] : "?") + " at " + fmtT(k.t1[i]) + " (" + fmtD(k.t1[i] - k.t0[i]) + " after the read)");
      } else if (o === FAIL) {
        out.push("<span class=\"t-warn\">did not write: " + esc(text(s.why[i]) || "failed") + "</span> at " + fmtT(k.t1[i]));
      } else {
        out.push("<span class=\"t-warn\">" + outName(o) + "</span>" + (text(s.why[i]) ? ": " + esc(text(s.why[i])) : "") + " at " + fmtT(k.t1[i]));
      }
      if (s.fence[i]) { out.push("fence " + s.fence[i]); }
      var v = [];
      if (s.vr[i] !== null) { v.push(fmtD(s.vr[i]) + " at the read"); }
      if (s.vw[i] !== null) { v.push((s.vw[i] < 0 ? "<span class=\"t-bad\">" + fmtD(s.vw[i]) + " at the write: wrote after ValidUntil</span>" : fmtD(s.vw[i]) + " at the write")); }
      if (v.length) { out.push("validity left: " + v.join(", ")); }
      (marked[i] || []).forEach(function (mi) {
        out.push("<span class=\"t-bad\"><b>V" + marks[mi].n + "</b>: " + esc(causeLabel(marks[mi].cause)) + "</span>");
      });
    } else if (h.kind === "lease") {
      out.push("<b>lease</b> (acquire #" + s.id[i] + ") · " + who);
      out.push("held from " + fmtT(k.t0[i]) + " for " + fmtD(k.t1[i] - k.t0[i]));
      if (s.vu[i] !== null) { out.push("ValidUntil " + fmtT(k.t0[i] + s.vu[i])); }
      var end = s.end[i], rel = s.rel[i];
      if (end === END_RELEASED) { out.push("released at " + fmtT(k.t1[i])); }
      else if (end === END_EXPIRED) {
        out.push("<span class=\"t-warn\">ran out at " + fmtT(k.t1[i]) + "</span>" + (rel !== null ? ", released " + fmtD(k.t0[i] + rel - k.t1[i]) + " later" : ", never released"));
      } else if (end === END_SUPERSEDED) { out.push("acquired again at " + fmtT(k.t1[i]) + " without a release"); }
      else { out.push("still held when the history ends"); }
      if (s.ext[i]) { out.push("extended " + s.ext[i] + (s.ext[i] === 1 ? " time" : " times")); }
      if (s.fence[i]) { out.push("fence " + s.fence[i]); }
    } else {
      out.push("<b>" + h.kind + " #" + s.id[i] + "</b> · " + who);
      out.push((s.out[i] === OK ? "ok" : "<span class=\"t-warn\">" + outName(s.out[i]) + "</span>") +
        " · " + fmtT(k.t0[i]) + " → " + fmtT(k.t1[i]) + " (" + fmtD(k.t1[i] - k.t0[i]) + ")");
      if (s.valid[i] !== null) { out.push("granted " + fmtD(s.valid[i]) + " of validity, until " + fmtT(k.t1[i] + s.valid[i])); }
      if (s.fence[i]) { out.push("fence " + s.fence[i]); }
      if (text(s.err[i])) { out.push("error: " + esc(text(s.err[i]))); }
    }
    return out.concat(faultsAt(h.t)).join("<br>");
  }

  // The line naming the faults in force at t, none when there are none.
  function faultsAt(t) {
    var af = activeFaults(t);
    return af.length ? ["<span class=\"t-dim\">faults at this instant:</span> " + af.join(", ")] : [];
  }

  // A hold, a renewal of one, a lifecycle event or a down stretch, as HTML.
  function describeNode(h) {
    var out = [], k = K.hold, s = k.s, i = h.i;
    if (h.kind === "nodeev") {
      var e = nodeEvents[i];
      return "<b>" + esc(nodes[e.node]) + " " + esc(e.kind) + "</b> at " + fmtT(e.t) + (e.note ? "<br>" + esc(e.note) : "");
    }
    if (h.kind === "down") {
      var d = nodeDown[i];
      return "<b>" + esc(nodes[d.node]) + " down</b> from " + fmtT(d.from) +
        (d.healed ? " to " + fmtT(d.to) + " (" + fmtD(d.to - d.from) + ")" : ", <span class=\"t-warn\">not back up</span> when the run ends");
    }
    if (h.kind === "renew") {
      var r = K.renew, held = r.s.hold[i];
      return "<b>renewal by " + esc(whoName(r.s.by[i])) + "</b> of " + esc(whoName(s.owner[held])) + "'s hold of " + esc(rowName(h.lane)) +
        " at " + fmtT(r.t0[i]) + "<br><span class=\"t-warn\">a renewal that checks no owner extends whoever holds the key</span>";
    }
    out.push("<b>" + esc(rowName(h.lane)) + "</b>: held by <b>" + esc(whoName(s.owner[i])) + "</b>");
    out.push("from " + fmtT(k.t0[i]) + " for " + fmtD(k.t1[i] - k.t0[i]) + ", as the node saw it");
    out.push(endLong(i));
    var rs = [], r2 = K.renew;
    for (var j = firstFrom(r2, h.lane, k.t0[i]); j < r2.off[h.lane + 1] && r2.t0[j] <= k.t1[i]; j++) {
      if (r2.s.hold[j] === i) { rs.push(esc(whoName(r2.s.by[j])) + " at " + fmtT(r2.t0[j])); }
    }
    if (rs.length) { out.push("<span class=\"t-bad\">renewed by other clients:</span> " + rs.slice(0, 4).join(", ") + (rs.length > 4 ? ", …" : "")); }
    (holdMarks[i] || []).forEach(function (hm) {
      var m = marks[hm.mi], p = m.parts[hm.part];
      out.push("<span class=\"t-bad\"><b>V" + m.n + "</b>: " + "AB".charAt(hm.part) + "'s hold (" + esc(p ? p.worker : "") + ")" +
        (hm.lost ? "; its end is how it lost the lock" : "") + "</span>");
    });
    return out.join("<br>");
  }

  function describeStuck(st) {
    return ["<b>S" + st.n + " · key " + esc(st.key) + " stuck</b>: nobody could take it",
      "from " + fmtT(st.from) + " to " + fmtT(st.to) + " (" + fmtD(st.to - st.from) + "), " + fmtD(st.fault_free) + " of it fault-free",
      st.attempts + (st.attempts === 1 ? " acquire attempt" : " acquire attempts") + " in that time",
      "<span class=\"t-warn\">" + esc(st.last) + "</span>"].join("<br>");
  }

  function showTip(h, px, py) {
    if (!h) { tip.hidden = true; return; }
    tip.innerHTML = describe(h);
    tip.hidden = false;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    var left = px + 14, top = py + 14;
    if (left + tw > W - 4) { left = Math.max(4, px - tw - 14); }
    if (top + th > H - 4) { top = Math.max(4, py - th - 14); }
    tip.style.left = left + "px"; tip.style.top = top + "px";
  }

  // ---------- input ----------

  function local(e, el) { var r = el.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; }

  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = local(e, canvas);
    var dx = e.deltaX, dy = e.deltaY;
    if (e.deltaMode === 1) { dx *= 16; dy *= 16; }
    if (e.shiftKey && !dx) { dx = dy; dy = 0; }
    if (Math.abs(dx) > Math.abs(dy)) { pan(dx); } else if (dy) { zoom(Math.exp(dy * 0.0018), tAt(Math.max(p.x, LABEL_W))); }
  }, { passive: false });

  var drag = null;
  canvas.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) { return; }
    drag = { x: e.clientX, v0: v0, v1: v1, moved: false };
    try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic pointer */ }
  });
  canvas.addEventListener("pointermove", function (e) {
    var p = local(e, canvas);
    if (drag) {
      var dx = e.clientX - drag.x;
      if (Math.abs(dx) > 2) { drag.moved = true; canvas.classList.add("dragging"); tip.hidden = true; }
      if (drag.moved) { var dt = dx / plotW * (drag.v1 - drag.v0); setView(drag.v0 - dt, drag.v1 - dt); }
      return;
    }
    var h = hit(p.x, p.y);
    var changed = JSON.stringify(h && [h.kind, h.lane, h.i]) !== JSON.stringify(hover && [hover.kind, hover.lane, hover.i]);
    hover = h;
    showTip(h, p.x, p.y);
    if (changed) { schedule(); }
  });
  function endDrag() { drag = null; canvas.classList.remove("dragging"); }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", function () { if (!drag) { hover = null; tip.hidden = true; schedule(); } });
  canvas.addEventListener("dblclick", function (e) { zoom(0.5, tAt(local(e, canvas).x)); });

  var ovDrag = false;
  function ovMove(e) {
    var p = local(e, ov);
    var t = (p.x - LABEL_W) / plotW * (END + 2 * PAD) - PAD, half = (v1 - v0) / 2;
    setView(t - half, t + half);
  }
  ov.addEventListener("pointerdown", function (e) {
    ovDrag = true;
    try { ov.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic pointer */ }
    ovMove(e);
  });
  ov.addEventListener("pointermove", function (e) { if (ovDrag) { ovMove(e); } });
  ov.addEventListener("pointerup", function () { ovDrag = false; });

  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  document.getElementById("pan-left").addEventListener("click", function () { pan(-plotW * 0.4); });
  document.getElementById("pan-right").addEventListener("click", function () { pan(plotW * 0.4); });
  document.getElementById("zoom-fit").addEventListener("click", function () { selected = -1; selectedStuck = -1; setView(-PAD, END + PAD); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-stuck]"), function (el) {
    if (el.tagName === "BODY") { return; }
    el.addEventListener("click", function (e) {
      e.preventDefault();
      var si = Number(el.getAttribute("data-stuck"));
      showStuck(si, true);
      if (history.replaceState) { history.replaceState(null, "", "#s" + (si + 1)); }
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-mark]"), function (el) {
    if (el.tagName === "ARTICLE") { return; }
    el.addEventListener("click", function (e) {
      e.preventDefault();
      var mi = Number(el.getAttribute("data-mark"));
      showMark(mi, true);
      if (history.replaceState) { history.replaceState(null, "", "#v" + (mi + 1)); }
    });
  });
  window.addEventListener("resize", function () { resize(); schedule(); });

  // ---------- self-test ----------
  // Opened at #selftest, the page exercises its own tooltips, hit testing and input handlers once, so that a
  // headless browser test covers the code a person reaches only by pointing and clicking. Errors surface through
  // window.onerror like any other; data-selftest counts what was exercised.

  // Each stuck span: zoomed to, found by the hit test at its middle, described.
  function selfTestStuck() {
    stuck.forEach(function (st, si) {
      showStuck(si, false); draw();
      var px = x((st.from + st.to) / 2), py = AXIS_H + 2 + (STUCK_ROW0 + si) * FAULT_ROW_H + FAULT_ROW_H / 2;
      var h = hit(px, py);
      if (!h || h.kind !== "stuck" || h.i !== si) { throw new Error("S" + st.n + ": hit test at its span found " + JSON.stringify(h)); }
      hover = h; showTip(h, px, py); draw();
    });
    selectedStuck = -1;
    return stuck.length;
  }

  // Every lifecycle event and down stretch, the first holds and renewals of every row shown in the tooltip; each
  // violating pair's highlighted holds zoomed to and found by the hit test at the middle of their visible part.
  function selfTestNodes() {
    var n = 0, row, i;
    function tipOf(h) { showTip(h, LABEL_W, NODES_TOP); n++; }
    nodeEvents.forEach(function (e, ei) { tipOf({ kind: "nodeev", i: ei, t: e.t }); });
    nodeDown.forEach(function (d, di) { tipOf({ kind: "down", i: di, t: d.from }); });
    for (row = 0; row < nodes.length * NK; row++) {
      for (i = K.hold.off[row]; i < K.hold.off[row + 1] && i < K.hold.off[row] + 40; i++) { tipOf({ kind: "hold", lane: row, i: i, t: K.hold.t0[i] }); }
      for (i = K.renew.off[row]; i < K.renew.off[row + 1] && i < K.renew.off[row] + 40; i++) { tipOf({ kind: "renew", lane: row, i: i, t: K.renew.t0[i] }); }
    }
    tip.hidden = true;
    marks.forEach(function (m, mi) {
      showMark(mi, false); draw();
      (m.holds || []).forEach(function (h) {
        var row = holdRow(h.hold), a = Math.max(K.hold.t0[h.hold], v0), b = Math.min(K.hold.t1[h.hold], v1);
        if (a > b) { return; }
        var px = x((a + b) / 2), py = rowY(row) + KEY_H / 2, got = hit(px, py);
        var ok = got && ((got.kind === "hold" && got.i === h.hold) || (got.kind === "renew" && K.renew.s.hold[got.i] === h.hold));
        if (!ok) { throw new Error("V" + m.n + ": hit test at its hold " + h.hold + " found " + JSON.stringify(got)); }
        hover = got; showTip(got, px, py); draw(); n++;
      });
    });
    return n;
  }

  function selfTest() {
    var n = 0, l, i;
    ["acquire", "extend", "release", "lease", "cs"].forEach(function (kind) {
      var k = K[kind];
      for (l = 0; l < lanes.length; l++) {
        for (i = k.off[l]; i < k.off[l + 1] && i < k.off[l] + 40; i++) { describe({ kind: kind, lane: l, i: i, t: k.t0[i] }); n++; }
      }
    });
    faults.forEach(function (f, fi) { describe({ kind: "fault", i: fi, t: f.from }); n++; });
    marks.forEach(function (m, mi) {
      showMark(mi, false); draw();
      m.parts.forEach(function (p) {
        if (p.lane < 0) { return; }
        var px = x((p.t0 + p.t1) / 2), py = LANES_TOP + p.lane * LANE_H + CS_Y + CS_H / 2;
        var h = hit(px, py);
        if (!h || h.kind !== "cs" || h.i !== p.cs) { throw new Error("V" + m.n + ": hit test at its section found " + JSON.stringify(h)); }
        hover = h; showTip(h, px, py); draw(); n++;
      });
    });
    n += selfTestStuck();
    n += selfTestNodes();
    setView(-PAD, END + PAD);
    for (var py = 0; py < H; py += 4) {
      for (var px = LABEL_W; px < W; px += 23) { var h2 = hit(px, py); if (h2) { describe(h2); n++; } }
    }
    var r = canvas.getBoundingClientRect(), cx = r.left + W / 2, cy = r.top + LANES_TOP + 5;
    canvas.dispatchEvent(new WheelEvent("wheel", { deltaY: -400, clientX: cx, clientY: cy, bubbles: true, cancelable: true }));
    canvas.dispatchEvent(new WheelEvent("wheel", { deltaX: 200, clientX: cx, clientY: cy, bubbles: true, cancelable: true }));
    canvas.dispatchEvent(new PointerEvent("pointerdown", { clientX: cx, clientY: cy, button: 0, pointerId: 7, bubbles: true }));
    canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: cx - 120, clientY: cy, pointerId: 7, bubbles: true }));
    canvas.dispatchEvent(new PointerEvent("pointerup", { clientX: cx - 120, clientY: cy, pointerId: 7, bubbles: true }));
    canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: cx, clientY: cy + LANE_H, pointerId: 7, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("dblclick", { clientX: cx, clientY: cy, bubbles: true }));
    var o = ov.getBoundingClientRect();
    ov.dispatchEvent(new PointerEvent("pointerdown", { clientX: o.left + W / 3, clientY: o.top + 10, pointerId: 8, bubbles: true }));
    ov.dispatchEvent(new PointerEvent("pointerup", { clientX: o.left + W / 3, clientY: o.top + 10, pointerId: 8, bubbles: true }));
    ["zoom-in", "zoom-out", "pan-left", "pan-right", "zoom-fit"].forEach(function (id) { document.getElementById(id).click(); draw(); n++; });
    n += 8;
    draw();
    body.setAttribute("data-selftest", String(n));
  }

  // ---------- start ----------

  resize();
  var m0 = /^#v(\d+)$/.exec(location.hash);
  if (m0 && marks[Number(m0[1]) - 1]) { showMark(Number(m0[1]) - 1, false); }
  var s0 = /^#s(\d+)$/.exec(location.hash);
  if (s0 && stuck[Number(s0[1]) - 1]) { showStuck(Number(s0[1]) - 1, false); }
  draw();
  if (location.hash === "#selftest") { selfTest(); }
  body.setAttribute("data-highlighted", String(resolved));
  body.setAttribute("data-init-ms", (performance.now() - t0Init).toFixed(1));
  body.setAttribute("data-ready", "1");
})();
