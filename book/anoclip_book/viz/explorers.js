/* The AnoCLIP Book's inline explorers: draw, in the browser, the maps a notebook computed when
   the page was built. No kernel, no network: the numbers are in the page (a JSON script inside
   each explorer, chunks deflated and base64-encoded, see anoclip_book/viz/packing.py) and this
   script is the only code. Every explorer output carries a copy of it (Colab shows each output
   in its own frame); on a page with several, the first copy defines the explorers and every copy
   starts those that have not started yet. */
(function () {
  "use strict";
  var registry = window.anoclipExplorers;
  if (!registry) {
    registry = window.anoclipExplorers = { started: 0, kinds: { attention: attentionExplorer, heatmap: heatmapExplorer } };
    registry.start = function (scope) {
      var roots = scope.querySelectorAll("[data-explorer]");
      for (var i = 0; i < roots.length; i++) {
        var root = roots[i];
        var kind = registry.kinds[root.getAttribute("data-explorer")];
        if (!kind || root.hasAttribute("data-started")) continue;
        root.setAttribute("data-started", "");
        registry.started += 1;
        try {
          kind(root, "anoclip-x" + registry.started + "-");
        } catch (error) {
          fail(root, error);
        }
      }
    };
  }
  registry.start(document);

  /* ------------------------------------------------------------------ decoding */

  function bytesOf(base64) {
    var text = atob(base64);
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function inflate(base64) {
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot inflate the explorer's data (it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later)"));
    }
    var stream = new Blob([bytesOf(base64)]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer();
  }

  function loadImage(url) {
    var image = new Image();
    image.src = url;
    return image.decode().then(function () { return image; });
  }

  /* An image at the model's resolution, in colour and greyed as the figures dim it under a map. */
  function pictures(url, size, dim) {
    return loadImage(url).then(function (image) {
      var canvas = blank(size, size);
      var context = canvas.getContext("2d");
      context.drawImage(image, 0, 0, size, size);
      var data = context.getImageData(0, 0, size, size);
      var grey = context.createImageData(size, size);
      for (var i = 0; i < data.data.length; i += 4) {
        var value = (data.data[i] + data.data[i + 1] + data.data[i + 2]) / 3 / 255;
        var shade = Math.round(((1 - dim) * value + dim * 0.5) * 255);
        grey.data[i] = grey.data[i + 1] = grey.data[i + 2] = shade;
        grey.data[i + 3] = 255;
      }
      var dimmed = blank(size, size);
      dimmed.getContext("2d").putImageData(grey, 0, 0);
      return { colour: canvas, dimmed: dimmed };
    });
  }

  /* Lazily decoded pieces: each key is decoded once, on first use. */
  function cache(load) {
    var kept = {};
    return function (key) {
      if (!(key in kept)) kept[key] = load(key);
      return kept[key];
    };
  }

  /* ------------------------------------------------------------------ drawing */

  /* The colour of each stored level: the 256-entry colour map at the middle of the level's bin
     (with 256 levels, the colour map itself; see packing.codes). */
  function levelColours(base64, levels) {
    var table = bytesOf(base64), colours = new Uint8Array(3 * levels);
    for (var code = 0; code < levels; code++) {
      var index = Math.min(255, Math.floor((code + 0.5) * 256 / levels));
      colours.set(table.subarray(3 * index, 3 * index + 3), 3 * code);
    }
    return colours;
  }

  function blank(width, height) {
    var canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }

  /* A grid of palette codes as an RGBA canvas, every pixel at the same opacity (0..1). */
  function paint(codes, offset, width, height, palette, alpha) {
    var canvas = blank(width, height);
    var context = canvas.getContext("2d");
    var image = context.createImageData(width, height);
    var opacity = Math.round(alpha * 255);
    for (var i = 0; i < width * height; i++) {
      var code = codes[offset + i];
      image.data[4 * i] = palette[3 * code];
      image.data[4 * i + 1] = palette[3 * code + 1];
      image.data[4 * i + 2] = palette[3 * code + 2];
      image.data[4 * i + 3] = opacity;
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }

  /* The pixels where ``inside[i]`` holds, in red at opacity 0.6 (the figures' predicted region). */
  function region(inside, size) {
    var canvas = blank(size, size);
    var context = canvas.getContext("2d");
    var image = context.createImageData(size, size);
    for (var i = 0; i < size * size; i++) {
      if (!inside[i]) continue;
      image.data[4 * i] = 255;
      image.data[4 * i + 3] = 153;
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }

  function layer(context, source, smooth) {
    context.imageSmoothingEnabled = smooth;
    context.drawImage(source, 0, 0, context.canvas.width, context.canvas.height);
  }

  /* The outline of a 0/1 mask: the pixel edges between inside and outside, as one path. */
  function outline(context, mask, size, colour) {
    if (!mask) return;
    var scale = context.canvas.width / size;
    context.beginPath();
    for (var y = 0; y < size; y++) {
      for (var x = 0; x < size; x++) {
        var inside = mask[y * size + x];
        if (x + 1 < size && mask[y * size + x + 1] !== inside) {
          context.moveTo((x + 1) * scale, y * scale);
          context.lineTo((x + 1) * scale, (y + 1) * scale);
        }
        if (y + 1 < size && mask[(y + 1) * size + x] !== inside) {
          context.moveTo(x * scale, (y + 1) * scale);
          context.lineTo((x + 1) * scale, (y + 1) * scale);
        }
      }
    }
    context.strokeStyle = colour;
    context.lineWidth = Math.max(1.5, scale * 0.6);
    context.stroke();
  }

  function box(context, row, col, grid, colour) {
    var height = context.canvas.height / grid[0];
    var width = context.canvas.width / grid[1];
    context.strokeStyle = colour;
    context.lineWidth = Math.max(2, context.canvas.width / 120);
    context.strokeRect(col * width + 1, row * height + 1, width - 2, height - 2);
  }

  /* ------------------------------------------------------------------ page elements */

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    for (var name in attributes || {}) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    }
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  /* A control with its label (and the value it shows, for sliders): the label names the control alone. */
  function labelled(id, text, control, shown) {
    control.id = id;
    var wrapper = element("span", { "class": "anoclip-explorer-control" }, [element("label", { "for": id, text: text }), control]);
    if (shown) {
      shown.setAttribute("for", id);
      wrapper.appendChild(shown);
    }
    return wrapper;
  }

  function select(options, value) {
    var node = element("select");
    options.forEach(function (option) {
      var item = element("option", { value: String(option[0]), text: option[1] });
      if (String(option[0]) === String(value)) item.selected = true;
      node.appendChild(item);
    });
    return node;
  }

  function slider(min, max, step, value) {
    return element("input", { type: "range", min: String(min), max: String(max), step: String(step), value: String(value) });
  }

  /* A square canvas with its caption; a colour bar, when given, sits beside it at the same height. */
  function panel(size, caption, focusable, bar) {
    var canvas = blank(size, size);
    if (focusable) canvas.tabIndex = 0;
    var row = element("div", { "class": "anoclip-explorer-row" }, bar ? [canvas, bar.node] : [canvas]);
    var figure = element("figure", { "class": "anoclip-explorer-panel" + (bar ? " anoclip-explorer-with-bar" : "") },
      [row, element("figcaption", { text: caption })]);
    return { canvas: canvas, context: canvas.getContext("2d"), figure: figure };
  }

  /* A vertical colour bar with its range and what it measures (HTML text follows the page's theme). */
  function colourBar(palette, levels, label) {
    var canvas = blank(1, levels);
    var context = canvas.getContext("2d");
    var image = context.createImageData(1, levels);
    for (var i = 0; i < levels; i++) {
      var code = levels - 1 - i;
      image.data[4 * i] = palette[3 * code];
      image.data[4 * i + 1] = palette[3 * code + 1];
      image.data[4 * i + 2] = palette[3 * code + 2];
      image.data[4 * i + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    var high = element("span"), low = element("span");
    var node = element("div", { "class": "anoclip-explorer-bar", "aria-hidden": "true" }, [
      canvas, element("div", { "class": "anoclip-explorer-ticks" }, [high, low]),
      element("span", { "class": "anoclip-explorer-axis", text: label })]);
    return { node: node, set: function (lowText, highText) { low.textContent = lowText; high.textContent = highText; } };
  }

  function fail(root, error) {
    var message = element("p", { "class": "anoclip-explorer-status", role: "alert", text: "The explorer cannot draw here: " + error.message });
    root.appendChild(message);
    root.setAttribute("data-error", error.message);
  }

  function payload(root) {
    return JSON.parse(root.querySelector("script.anoclip-explorer-data").textContent);
  }

  function percent(value) { return (100 * value).toFixed(1) + " %"; }

  function leftOut(data) {
    return data.omitted ? " " + data.omitted + " more image(s) were computed but left out to keep the page light." : "";
  }

  /* The explorer's skeleton: banner (from the page), controls, panels, the text naming the view. */
  function frame(root) {
    var placeholder = root.querySelector(".anoclip-explorer-placeholder");
    if (placeholder) placeholder.hidden = true;
    var controls = element("fieldset", { "class": "anoclip-explorer-controls" });
    var panels = element("div", { "class": "anoclip-explorer-panels" });
    var status = element("p", { "class": "anoclip-explorer-status", "aria-live": "polite" });
    var note = element("p", { "class": "anoclip-explorer-note" });
    [controls, panels, status, note].forEach(function (node) { root.appendChild(node); });
    return { controls: controls, panels: panels, status: status, note: note };
  }

  /* Redraw on demand; only the newest request paints (decoding is asynchronous). */
  function drawer(root, draw) {
    var latest = 0, count = 0;
    return function () {
      var ticket = ++latest;
      return draw(function () { return ticket === latest; }).then(function (view) {
        if (!view) return;
        count += 1;
        root.setAttribute("data-draws", String(count));
        if (!root.hasAttribute("data-first-draw-ms")) root.setAttribute("data-first-draw-ms", performance.now().toFixed(1));
        root.anoclipView = function () { return view; };
      }).catch(function (error) { fail(root, error); });
    };
  }

  /* ------------------------------------------------------------------ attention */

  function attentionExplorer(root, prefix) {
    var data = payload(root);
    var size = data.size, grid = data.grid, patches = grid[0] * grid[1], last = data.blocks - 1;
    var palette = levelColours(data.cmap, data.levels);
    var ui = frame(root);
    var first = data.images[0];
    var state = { image: 0, path: "q-k", block: last, head: "mean", row: first.start[0], col: first.start[1], opacity: data.opacity };

    var image = select(data.images.map(function (item, i) { return [i, item.name]; }), 0);
    var paths = data.paths.map(function (path) {
      var radio = element("input", { type: "radio", name: prefix + "path", value: path });
      radio.checked = path === state.path;
      return radio;
    });
    var pathGroup = element("fieldset", {}, [element("legend", { text: "path" })].concat(paths.map(function (radio, i) {
      return labelled(prefix + "path-" + i, data.paths[i], radio);
    })));
    var blockOut = element("output"), rowOut = element("output"), colOut = element("output"), opacityOut = element("output");
    var block = slider(0, last, 1, state.block);
    var heads = [["mean", "mean over heads"]];
    for (var h = 0; h < data.heads; h++) heads.push([h, "head " + h]);
    var head = select(heads, "mean");
    var row = slider(0, grid[0] - 1, 1, state.row), col = slider(0, grid[1] - 1, 1, state.col);
    var opacity = slider(0, 1, 0.05, state.opacity);
    [labelled(prefix + "image", "image", image), pathGroup, labelled(prefix + "block", "block", block, blockOut),
      labelled(prefix + "head", "head", head), labelled(prefix + "row", "query row", row, rowOut),
      labelled(prefix + "col", "query column", col, colOut), labelled(prefix + "opacity", "opacity", opacity, opacityOut)
    ].forEach(function (node) { ui.controls.appendChild(node); });

    var side = size * Math.max(1, Math.ceil(240 / size));
    var bar = colourBar(palette, data.levels, "attention weight");
    var left = panel(side, "image, query patch (cyan), defect (green)", true);
    var right = panel(side, "where the query patch looks", true, bar);
    [left.figure, right.figure].forEach(function (node) { ui.panels.appendChild(node); });
    ui.note.textContent = "Click a patch on either image, or focus one and use the arrow keys, to query it. " +
      "Each map is scaled from 0 to the query's own largest weight on a patch; per-head maps are stored for the last block. " +
      "Stored with " + data.levels + " levels per map, computed when the page was built." + leftOut(data);

    var images = cache(function (i) { return pictures(data.images[i].url, size, 0.6); });
    var masks = cache(function (i) {
      return data.images[i].mask ? inflate(data.images[i].mask).then(function (buffer) { return new Uint8Array(buffer); }) : Promise.resolve(null);
    });
    var blocks = cache(function (key) {
      var parts = key.split("|"), item = data.images[+parts[0]].chunks[parts[1]][+parts[2]];
      if (item === null) return Promise.resolve(null);
      return inflate(item).then(function (buffer) {
        var matrices = buffer.byteLength / (patches * (8 + patches));
        return {
          matrices: matrices,
          max: new Float32Array(buffer, 0, matrices * patches),
          cls: new Float32Array(buffer, 4 * matrices * patches, matrices * patches),
          codes: new Uint8Array(buffer, 8 * matrices * patches)
        };
      });
    });

    function sync() {
      var headOn = state.block === last;
      head.disabled = !headOn;
      if (!headOn) { state.head = "mean"; head.value = "mean"; }
      block.value = state.block; row.value = state.row; col.value = state.col; image.value = state.image;
      blockOut.value = String(state.block); rowOut.value = String(state.row); colOut.value = String(state.col);
      opacityOut.value = state.opacity.toFixed(2);
      paths.forEach(function (radio) { radio.checked = radio.value === state.path; });
    }

    var redraw = drawer(root, function (current) {
      var s = Object.assign({}, state), item = data.images[s.image];
      return Promise.all([images(s.image), masks(s.image), blocks(s.image + "|" + s.path + "|" + s.block)]).then(function (got) {
        if (!current()) return null;
        var pics = got[0], mask = got[1], attention = got[2];
        var query = s.row * grid[1] + s.col;
        var headText = s.head === "mean" ? "mean over heads" : "head " + s.head;
        var view = { image: item.name, path: s.path, block: s.block, head: s.head, row: s.row, col: s.col, values: null, max: null, cls: null };
        layer(left.context, pics.colour, true);
        outline(left.context, mask, size, "lime");
        box(left.context, s.row, s.col, grid, "cyan");
        layer(right.context, pics.dimmed, true);
        var text = item.name + " — " + s.path + " path, block " + s.block + ", " + headText + ", query patch (row " + s.row + ", column " + s.col + "): ";
        if (attention === null) {
          bar.set("", "");
          text += "the v-v path does not run in this block (it starts later).";
        } else {
          var matrix = s.head === "mean" ? 0 : 1 + Number(s.head);
          var at = matrix * patches + query, offset = at * patches;
          var scale = attention.max[at];
          layer(right.context, paint(attention.codes, offset, grid[1], grid[0], palette, s.opacity), false);
          view.values = Array.from(attention.codes.subarray(offset, offset + patches), function (code) { return (code + 0.5) / data.levels * scale; });
          view.max = scale;
          view.cls = attention.cls[at];
          bar.set("0", scale.toPrecision(3));
          text += "largest weight on a patch " + scale.toPrecision(3) + ", weight on CLS " + percent(view.cls) + ".";
        }
        box(right.context, s.row, s.col, grid, "cyan");
        ui.status.textContent = text;
        view.text = text;
        left.canvas.setAttribute("aria-label", "image " + item.name + " with the query patch at row " + s.row + ", column " + s.col);
        right.canvas.setAttribute("aria-label", text);
        return view;
      });
    });

    function change(update) { Object.assign(state, update); sync(); redraw(); }

    image.addEventListener("change", function () {
      var start = data.images[+image.value].start;
      change({ image: +image.value, row: start[0], col: start[1] });
    });
    paths.forEach(function (radio) { radio.addEventListener("change", function () { if (radio.checked) change({ path: radio.value }); }); });
    block.addEventListener("input", function () { change({ block: +block.value }); });
    head.addEventListener("change", function () { change({ head: head.value }); });
    row.addEventListener("input", function () { change({ row: +row.value }); });
    col.addEventListener("input", function () { change({ col: +col.value }); });
    opacity.addEventListener("input", function () { change({ opacity: +opacity.value }); });
    [left.canvas, right.canvas].forEach(function (canvas) {
      canvas.addEventListener("click", function (event) {
        var rect = canvas.getBoundingClientRect();
        var r = Math.floor((event.clientY - rect.top) / rect.height * grid[0]);
        var c = Math.floor((event.clientX - rect.left) / rect.width * grid[1]);
        change({ row: Math.min(grid[0] - 1, Math.max(0, r)), col: Math.min(grid[1] - 1, Math.max(0, c)) });
      });
      canvas.addEventListener("keydown", function (event) {
        var moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
        if (!moves) return;
        event.preventDefault();
        change({ row: Math.min(grid[0] - 1, Math.max(0, state.row + moves[0])), col: Math.min(grid[1] - 1, Math.max(0, state.col + moves[1])) });
      });
    });
    sync();
    redraw();
  }

  /* ------------------------------------------------------------------ heat maps */

  function heatmapExplorer(root, prefix) {
    var data = payload(root);
    var size = data.size, pixels = size * size, settings = data.prompts.length * data.smoothings.length * 2;
    var palette = levelColours(data.cmap, data.levels);
    var ui = frame(root);
    var state = { sample: 0, prompts: data.initial.prompts, smoothing: data.initial.smoothing, tta: false, threshold: null, opacity: data.opacity };

    var sample = element("select");
    data.classes.forEach(function (name) {
      var group = element("optgroup", { label: name });
      data.samples.forEach(function (item, i) {
        if (item["class"] === name) group.appendChild(element("option", { value: String(i), text: item.name }));
      });
      sample.appendChild(group);
    });
    var prompts = select(data.prompts.map(function (p) { return [p, p]; }), state.prompts);
    var smoothing = select(data.smoothings.map(function (s) { return [s, s]; }), state.smoothing);
    var tta = element("input", { type: "checkbox" });
    var threshold = slider(0, 1, 0.001, 0.5), opacity = slider(0, 1, 0.05, state.opacity);
    var thresholdOut = element("output"), opacityOut = element("output");
    [labelled(prefix + "sample", "image", sample), labelled(prefix + "prompts", "prompts", prompts),
      labelled(prefix + "smoothing", "smoothing", smoothing), labelled(prefix + "tta", "test-time adaptation", tta),
      labelled(prefix + "threshold", "threshold", threshold, thresholdOut), labelled(prefix + "opacity", "opacity", opacity, opacityOut)
    ].forEach(function (node) { ui.controls.appendChild(node); });

    var side = size * Math.max(1, Math.ceil(240 / size));
    var bar = colourBar(palette, data.levels, "P(abnormal)");
    var left = panel(side, "image, ground truth (green)");
    var middle = panel(side, "anomaly map", false, bar);
    var right = panel(side, "pixels at or above the threshold (red)");
    [left.figure, middle.figure, right.figure].forEach(function (node) { ui.panels.appendChild(node); });
    ui.note.textContent = "Colours are stretched over each map's own range (the colour bar gives it); the threshold slider spans " +
      "the class's maps under the chosen setting and starts at their 90th percentile. Maps stored with " + data.levels +
      " levels, computed when the page was built; IoU is computed here from the stored maps, pixel AUROC when the page was built." + leftOut(data);

    function setting() {
      return (data.prompts.indexOf(state.prompts) * data.smoothings.length + data.smoothings.indexOf(state.smoothing)) * 2 + (state.tta ? 1 : 0);
    }
    function key() { return state.prompts + "|" + state.smoothing + "|" + (state.tta ? 1 : 0); }

    var images = cache(function (i) { return pictures(data.samples[i].url, size, 0.5); });
    var samples = cache(function (i) {
      return inflate(data.samples[i].chunk).then(function (buffer) {
        var bytes = new Uint8Array(buffer, 8 * settings);
        var maps = [];
        for (var k = 0; k < settings; k++) {
          var difference = bytes.subarray(pixels * (k + 1), pixels * (k + 2)), map = new Uint8Array(pixels);
          for (var y = 0; y < size; y++) {
            for (var x = 0; x < size; x++) {
              var at = y * size + x;
              var sum = difference[at] + (x ? map[at - 1] : 0) + (y ? map[at - size] : 0) - (x && y ? map[at - size - 1] : 0);
              map[at] = sum & 255;
            }
          }
          maps.push(map);
        }
        return { low: new Float32Array(buffer, 0, settings), high: new Float32Array(buffer, 4 * settings, settings), mask: bytes.subarray(0, pixels), maps: maps };
      });
    });

    /* The threshold slider spans the class's maps under this setting and restarts at their 90th percentile. */
    var fitted = null;
    function fit() {
      var item = data.samples[state.sample], range = data.ranges[item["class"]][key()];
      var where = item["class"] + "|" + key();
      if (where === fitted) return;
      fitted = where;
      var step = (range[1] - range[0]) / 200 || 1e-6;
      threshold.min = String(range[0]); threshold.max = String(range[1]); threshold.step = String(step);
      threshold.value = String(range[2]);
      state.threshold = range[2];
    }

    function sync() {
      fit();
      sample.value = String(state.sample); prompts.value = state.prompts; smoothing.value = state.smoothing; tta.checked = state.tta;
      thresholdOut.value = state.threshold.toFixed(4); opacityOut.value = state.opacity.toFixed(2);
    }

    var redraw = drawer(root, function (current) {
      var s = Object.assign({}, state), item = data.samples[s.sample], k = setting();
      return Promise.all([images(s.sample), samples(s.sample)]).then(function (got) {
        if (!current()) return null;
        var pics = got[0], stored = got[1], map = stored.maps[k];
        var low = stored.low[k], high = stored.high[k];
        if (high - low < 1e-6) { low -= 1e-6; high += 1e-6; }  /* a flat map, widened as the figures widen it */
        var values = new Float32Array(pixels), hits = new Uint8Array(pixels), above = 0, both = 0, either = 0;
        for (var i = 0; i < pixels; i++) {
          values[i] = low + (map[i] + 0.5) / data.levels * (high - low);
          var hit = values[i] >= s.threshold, truth = stored.mask[i] === 1;
          hits[i] = hit ? 1 : 0;
          if (hit) above += 1;
          if (hit && truth) both += 1;
          if (hit || truth) either += 1;
        }
        layer(left.context, pics.colour, true);
        outline(left.context, stored.mask, size, "lime");
        layer(middle.context, pics.colour, true);
        layer(middle.context, paint(map, 0, size, size, palette, s.opacity), true);
        layer(right.context, pics.dimmed, true);
        layer(right.context, region(hits, size), false);
        outline(right.context, stored.mask, size, "lime");
        bar.set(stored.low[k].toFixed(4), stored.high[k].toFixed(4));
        var iou = either ? both / either : null;
        var auroc = item.auroc[key()];
        var text = item.name + " — " + s.prompts + " prompts, " + s.smoothing + " smoothing, " + (s.tta ? "with" : "no") +
          " test-time adaptation; threshold " + s.threshold.toFixed(4) + ": " + percent(above / pixels) + " of the pixels above it, IoU with the ground truth " +
          (iou === null ? "undefined (no defect, nothing above)" : iou.toFixed(2)) +
          (auroc === null || auroc === undefined ? "" : "; pixel AUROC of this map " + auroc.toFixed(3)) + ".";
        ui.status.textContent = text;
        middle.canvas.setAttribute("aria-label", text);
        return { sample: item.name, "class": item["class"], prompts: s.prompts, smoothing: s.smoothing, tta: s.tta,
          threshold: s.threshold, opacity: s.opacity, iou: iou, above: above, text: text, values: Array.from(values) };
      });
    });

    function change(update) { Object.assign(state, update); sync(); redraw(); }

    sample.addEventListener("change", function () { change({ sample: +sample.value }); });
    prompts.addEventListener("change", function () { change({ prompts: prompts.value }); });
    smoothing.addEventListener("change", function () { change({ smoothing: smoothing.value }); });
    tta.addEventListener("change", function () { change({ tta: tta.checked }); });
    threshold.addEventListener("input", function () { change({ threshold: +threshold.value }); });
    opacity.addEventListener("input", function () { change({ opacity: +opacity.value }); });
    sync();
    redraw();
  }
})();
