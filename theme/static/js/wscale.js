/* opskb window-scaling calculator: the arithmetic of tools/wscale.py, in the page.
 *
 * Every ```wscale block renders a <form class="wscale-calc"> whose fields and defaults come
 * from the Python tool's tables, and the build writes the kernel eras to js/wscale-eras.js
 * (window.opskbWscaleEras, loaded before this file); this file holds only the
 * arithmetic, and tests/test_wscale_browser.py checks it against tests/data/wscale_vectors.json.
 * Numbers are parsed as exact decimals (numerator/denominator) so that results land on the
 * same side of a power of two as the Python tool's fractions.
 */
(function () {
  "use strict";

  var MAX_RAW = 65535;
  var MAX_SHIFT = 14;
  var MAX_WINDOW = MAX_RAW * Math.pow(2, MAX_SHIFT); // RFC 7323 §2.3
  var TIMESTAMP_OPTION = 12;
  var SIGNED_WINDOW = 32767;

  function fail(message) {
    var error = new Error(message);
    error.wscale = true;
    throw error;
  }

  function gcd(a, b) {
    while (b) {
      var t = a % b;
      a = b;
      b = t;
    }
    return a;
  }

  function ratio(n, d) {
    var g = gcd(n, d) || 1;
    return { n: n / g, d: d / g };
  }

  /* "1.25e-4 MB" -> {value: {n, d}, unit: "MB"}; negatives and junk refused by name. */
  function split(text, what) {
    var stripped = String(text).trim().replace(/[,_]/g, "");
    if (stripped.charAt(0) === "-") fail(what + " must not be negative: '" + text + "'");
    var m = /^(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(\S*)$/.exec(stripped);
    if (!m) fail(what + " is not a number: '" + text + "'");
    var parts = m[1].split(".");
    var digits = parts[0] + (parts[1] || "");
    var n = parseInt(digits || "0", 10);
    var d = Math.pow(10, (parts[1] || "").length);
    var exponent = parseInt(m[2] || "0", 10);
    if (exponent > 0) n *= Math.pow(10, exponent);
    if (exponent < 0) d *= Math.pow(10, -exponent);
    return { value: ratio(n, d), unit: m[3] };
  }

  var SIZE_UNITS = {
    "": 1, b: 1, byte: 1, bytes: 1,
    k: 1024, kib: 1024, kb: 1000,
    m: 1048576, mib: 1048576, mb: 1000000,
    g: 1073741824, gib: 1073741824, gb: 1000000000
  };
  var RATE_PREFIXES = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
  var TIME_UNITS = {
    ns: [1, 1e9], us: [1, 1e6], "µs": [1, 1e6], ms: [1, 1000], s: [1, 1], sec: [1, 1], min: [60, 1]
  };

  function parseSize(text, what) {
    var p = split(text, what);
    var scale = SIZE_UNITS[p.unit.toLowerCase()];
    if (scale === undefined) fail(what + ": unknown unit '" + p.unit + "' in '" + text + "'");
    var whole = p.value.n * scale;
    if (whole % p.value.d !== 0) fail(what + ": '" + text + "' is not a whole number of bytes");
    return whole / p.value.d;
  }

  function parseWhole(text, what, low, high) {
    var p = split(text, what);
    if (p.unit || p.value.d !== 1) fail(what + " must be a whole number: '" + text + "'");
    if (p.value.n < low || p.value.n > high) {
      fail(what + " must be between " + low + " and " + high + ": '" + text + "'");
    }
    return p.value.n;
  }

  function parseRate(text) {
    var p = split(text, "bandwidth");
    var m = /^([kKmMgGtT]?)(bits?|b|B|bytes?|)(?:\/s|ps)?$/.exec(p.unit);
    if (!m) fail("bandwidth: unknown unit '" + p.unit + "' in '" + text + "'");
    var bits = m[2] === "B" || m[2] === "byte" || m[2] === "bytes" ? 8 : 1;
    var rate = ratio(p.value.n * RATE_PREFIXES[m[1].toLowerCase()] * bits, p.value.d);
    if (rate.n <= 0) fail("bandwidth must be above zero: '" + text + "'");
    return rate;
  }

  function parseTime(text) {
    var p = split(text, "RTT");
    if (!p.unit) fail("RTT '" + text + "' needs a unit, e.g. " + text + "ms or " + text + "s");
    var unit = TIME_UNITS[p.unit];
    if (!unit) fail("RTT: unknown unit '" + p.unit + "' in '" + text + "'");
    var seconds = ratio(p.value.n * unit[0], p.value.d * unit[1]);
    if (seconds.n <= 0) fail("RTT must be above zero: '" + text + "'");
    return seconds;
  }

  function parseLoss(text) {
    var p = split(text, "loss");
    if (p.unit !== "" && p.unit !== "%") fail("loss: unknown unit '" + p.unit + "'");
    var loss = p.unit === "%" ? ratio(p.value.n, p.value.d * 100) : p.value;
    if (loss.n <= 0 || loss.n > loss.d) fail("loss must be above 0 and at most 1: '" + text + "'");
    return loss;
  }

  function parseTriple(text) {
    var words = String(text).trim().split(/\s+/).filter(Boolean);
    if (words.length !== 3) {
      fail("tcp_rmem needs three values (min default max), got " + words.length);
    }
    var v = words.map(function (word) { return parseSize(word, "tcp_rmem"); });
    if (!(v[0] <= v[1] && v[1] <= v[2])) fail("tcp_rmem must satisfy min <= default <= max");
    return v;
  }

  /* --- kernel eras: rows from the Python table, one algorithm --------------------------- */

  /* As tools/wscale_kernels.VERSION: `uname -r` output such as 5.15.0-91-generic is accepted. */
  function versionKey(version) {
    var m = /^(\d+(?:\.\d+){1,3})(?:[-+~_].*)?$/.exec(String(version));
    if (!m) fail("unknown kernel version '" + version + "' (e.g. 2.6.17, 4.20, 6.10, today)");
    return m[1].split(".").map(Number);
  }

  function notAbove(a, b) {
    for (var i = 0; i < Math.max(a.length, b.length); i++) {
      var x = i < a.length ? a[i] : -1;
      var y = i < b.length ? b[i] : -1;
      if (x !== y) return x < y;
    }
    return true;
  }

  function findEra(eras, version) {
    var wanted = String(version).trim();
    if (wanted.toLowerCase() === "today" || wanted.toLowerCase() === "latest") {
      wanted = eras[eras.length - 1].version;
    }
    var key = versionKey(wanted);
    var found = null;
    eras.forEach(function (era) {
      if (notAbove(versionKey(era.version), key)) found = era;
    });
    if (!found) fail("unknown kernel version '" + wanted + "': the table starts at " + eras[0].version);
    return found;
  }

  function winFromSpace(era, space) {
    if (era.scaling_ratio !== null) return Math.floor((space * era.scaling_ratio) / 256);
    return space - Math.floor(space / Math.pow(2, era.adv_win_scale));
  }

  var SYN_CAPS = {
    rfc2414: function (era, window, mss, shift) {
      if (mss <= Math.pow(2, shift)) return window;
      var segments = mss > 3 * 1460 ? 2 : mss > 1460 ? 3 : era.syn_segments;
      return Math.min(window, segments * mss);
    },
    "init-rwnd": function (era, window, mss, shift) {
      if (mss <= Math.pow(2, shift)) return window;
      var segments = mss > 1460
        ? Math.max(Math.floor((1460 * era.syn_segments) / mss), 2) : era.syn_segments;
      return Math.min(window, segments * mss);
    },
    none: function (era, window) { return window; }
  };

  function chooseKernel(eras, a) {
    var era = findEra(eras, a.kernel);
    var rmem = a.rmem || era.rmem;
    var rmemMax = a["rmem-max"] === null ? era.rmem_max : a["rmem-max"];
    var mss = a.timestamps ? a.mss - TIMESTAMP_OPTION : a.mss;
    if (mss < 1) fail("MSS " + a.mss + " leaves no room for data");
    var clamp = a["window-clamp"] || MAX_WINDOW;
    var full = winFromSpace(era, rmem[1]);
    var space = Math.min(clamp, full);
    if (space > mss) space -= space % mss;
    var shift = 0;
    var scaling = !a["no-window-scaling"];
    if (scaling) {
      var ceiling = Math.max(space, rmem[2], rmemMax);
      if (era.clamp_limits_shift) ceiling = Math.min(ceiling, clamp);
      while (ceiling > MAX_RAW && shift < MAX_SHIFT) { // tcp_select_initial_window's loop
        ceiling = Math.floor(ceiling / 2);
        shift += 1;
      }
    }
    var window = era.signed_window_cap ? Math.min(space, SIGNED_WINDOW) : space;
    window = Math.min(SYN_CAPS[era.syn_rule](era, window, mss, shift), MAX_RAW);
    var unit = Math.pow(2, shift);
    return {
      kernel: era.version,
      shift: scaling ? shift : null,
      syn_window: window,
      first_ack_raw: Math.ceil(window / unit),
      max_window: Math.min(MAX_RAW * unit, clamp),
      warnings: []
    };
  }

  /* --- the other calculations -------------------------------------------------------- */

  function shiftFor(window) {
    if (window > MAX_WINDOW) fail("no shift expresses " + window + " bytes: the largest is " + MAX_WINDOW);
    var shift = 0;
    while (MAX_RAW * Math.pow(2, shift) < window) shift += 1;
    return { shift: shift, max_window: MAX_RAW * Math.pow(2, shift), warnings: [] };
  }

  var SECTIONS = {
    effective: function (a) {
      var used = Math.min(a.shift, MAX_SHIFT);
      var warnings = [];
      if (a.shift > MAX_SHIFT) warnings.push("shift " + a.shift + " is above 14: RFC 7323 §2.3 says use 14");
      if (a.syn) warnings.push("a SYN's window is never scaled (RFC 7323 §2.2)");
      var window = a.syn ? a.raw : a.raw * Math.pow(2, used);
      return { effective_window: window, shift_used: used, warnings: warnings };
    },
    "shift-for": function (a) { return shiftFor(a.bytes); },
    kernel: function (a, eras) { return chooseKernel(eras, a); },
    throughput: function (a) {
      return { throughput_bps: (a.window * 8 * a.rtt.d) / a.rtt.n, warnings: [] };
    },
    bdp: function (a) {
      var top = a.bandwidth.n * a.rtt.n;
      var bottom = a.bandwidth.d * a.rtt.d * 8;
      if (top > MAX_WINDOW * bottom) { // RFC 7323 §2.3: more than any window holds
        return { bdp_bytes: top / bottom, shift: null, warnings: [] };
      }
      var needed = shiftFor(Math.floor((top + bottom - 1) / bottom));
      return { bdp_bytes: top / bottom, shift: needed.shift, warnings: [] };
    },
    mathis: function (a) {
      var m = /^sqrt\(([0-9.]+)\)$|^([0-9.]+)$/.exec(String(a.constant).replace(/\s/g, ""));
      if (!m) fail("constant must be a number or sqrt(N): '" + a.constant + "'");
      var c = m[1] !== undefined ? Math.sqrt(parseFloat(m[1])) : parseFloat(m[2]);
      var rate = ((a.mss * 8 * a.rtt.d) / a.rtt.n) * c / Math.sqrt(a.loss.n / a.loss.d);
      return { throughput_bps: rate, warnings: [] };
    }
  };

  var PARSERS = {
    raw: function (t) { return parseWhole(t, "raw window", 0, MAX_RAW); },
    shift: function (t) { return parseWhole(t, "shift", 0, 255); },
    bytes: function (t) { return parseSize(t, "window"); },
    kernel: function (t) { return t; },
    rmem: parseTriple,
    "rmem-max": function (t) { return parseSize(t, "rmem-max"); },
    mss: function (t) { return parseWhole(t, "MSS", 1, MAX_RAW); },
    "window-clamp": function (t) { return parseSize(t, "window clamp"); },
    window: function (t) { return parseSize(t, "window"); },
    rtt: parseTime,
    bandwidth: parseRate,
    loss: parseLoss,
    constant: function (t) { return t; }
  };

  /* --- output ------------------------------------------------------------------------ */

  function group(value, digits) {
    return value.toLocaleString("en-US", { maximumFractionDigits: digits || 0 });
  }

  function bytesText(size) {
    var units = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][1]) { // as tools/wscale_units.format_bytes: cut short, marked ≈
        var thousandths = Math.floor((size * 1000) / units[i][1]);
        var mark = (size * 1000) % units[i][1] === 0 ? "" : "≈";
        var reading = String(thousandths / 1000);
        return group(Math.round(size)) + " bytes (" + mark + reading + " " + units[i][0] + ")";
      }
    }
    return group(Math.round(size)) + " bytes";
  }

  function rateText(bps) {
    var units = [["Gbit/s", 1e9], ["Mbit/s", 1e6], ["kbit/s", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (bps >= units[i][1]) return (bps / units[i][1]).toFixed(2) + " " + units[i][0];
    }
    return group(bps) + " bit/s";
  }

  var FORMATS = {
    effective_window: bytesText,
    max_window: bytesText,
    bdp_bytes: bytesText,
    syn_window: function (v) { return group(v) + " bytes"; },
    throughput_bps: rateText,
    shift: function (v) { return v === null ? "none (off, or beyond shift 14)" : String(v); }
  };

  function show(fieldset, result, error) {
    fieldset.querySelectorAll("output[data-out]").forEach(function (out) {
      var key = out.getAttribute("data-out");
      var value = result ? result[key] : undefined;
      if (value === undefined) {
        out.textContent = "";
        out.removeAttribute("data-value");
        return;
      }
      out.setAttribute("data-value", value === null ? "null" : String(value));
      out.textContent = (FORMATS[key] || String)(value);
    });
    fieldset.querySelector("[data-out=warnings]").textContent = result ? result.warnings.join("; ") : "";
    fieldset.querySelector("[data-out=error]").textContent = error || "";
  }

  function update(fieldset, eras) {
    var section = fieldset.getAttribute("data-section");
    var args = {};
    var missing = [];
    try {
      fieldset.querySelectorAll("input[name]").forEach(function (input) {
        var name = input.name;
        if (input.type === "checkbox") {
          args[name] = input.checked;
          return;
        }
        var text = input.value.trim() || input.getAttribute("data-default") || "";
        if (!text) {
          args[name] = null;
          if (input.hasAttribute("data-required")) missing.push(name);
          return;
        }
        args[name] = PARSERS[name](text);
      });
      if (missing.length) {
        show(fieldset, null, "");
        return;
      }
      show(fieldset, SECTIONS[section](args, eras), "");
    } catch (error) {
      if (!error.wscale) throw error;
      show(fieldset, null, error.message);
    }
  }

  function eraHint(fieldset, eras) {
    var kernel = fieldset.querySelector("input[name=kernel]");
    var rmem = fieldset.querySelector("input[name=rmem]");
    var rmemMax = fieldset.querySelector("input[name=rmem-max]");
    try {
      var era = findEra(eras, kernel.value.trim() || kernel.getAttribute("data-default"));
      rmem.placeholder = era.rmem.join(" ");
      rmemMax.placeholder = String(era.rmem_max);
    } catch (error) {
      if (!error.wscale) throw error;
    }
  }

  function start(form, eras) {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.querySelectorAll("fieldset[data-section]").forEach(function (fieldset) {
      var refresh = function () {
        if (fieldset.getAttribute("data-section") === "kernel") eraHint(fieldset, eras);
        update(fieldset, eras);
      };
      fieldset.addEventListener("input", refresh);
      fieldset.addEventListener("change", refresh);
      refresh();
    });
    form.setAttribute("data-ready", "true");
  }

  function startAll() {
    var forms = document.querySelectorAll("form.wscale-calc");
    if (!forms.length) return;
    var eras = window.opskbWscaleEras;
    if (!Array.isArray(eras) || !eras.length) {
      throw new Error("wscale calculator: js/wscale-eras.js did not load; the forms stay idle");
    }
    forms.forEach(function (form) { start(form, eras); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
