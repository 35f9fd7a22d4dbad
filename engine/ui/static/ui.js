// mad's live page (engine/ui.go). Two parts:
//
//  - the figures: what each pipeline's sources, aggregation and sinks
//    received, refused and dropped, from ui/state (built from the counters
//    /metrics exports, each figure naming the series it sums), every second;
//  - live charts: metrics of the telemetry websocket (telemetry/v2/stream,
//    MAD's protocol v2: getMetrics and newMetric list them, subscribeMetric
//    streams a metric's reportMetric messages), redrawn every second.
//
// The charted metrics are kept in the address (#charts=service|metric|statistic,...);
// without any, the first few metrics seen are charted.
//
// Everything from the daemon is put into the page as text (textContent,
// dataset), never as HTML: metric names are whatever clients sent.
(function () {
  'use strict';

  var REFRESH_MS = 1000; // figures polled, charts redrawn
  var KEEP_MS = 10 * 60 * 1000; // a chart keeps this much history
  var DEFAULT_CHARTS = 3; // charted at first when the address names none
  var MAX_LISTED = 300; // metrics listed in the picker (filter for more)
  var COLORS = ['#2a6bb0', '#d9534f', '#3c9a4a', '#e08e0b', '#7b52ab', '#17a2b8', '#8c564b', '#555'];
  var COLUMNS = {
    source: ['received', 'refused', 'dropped'],
    sink: ['written', 'dropped', 'errors']
  };

  function $(id) { return document.getElementById(id); }

  // el builds an element: attrs are properties (className) or, for data-*,
  // dataset entries; children are nodes or strings (as text).
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k.indexOf('data-') === 0) {
        e.setAttribute(k, attrs[k]);
      } else {
        e[k] = attrs[k];
      }
    });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function fmt(v) {
    if (v === null || v === undefined) return '–';
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
    return Number(v.toPrecision(4)).toString();
  }

  // ---- the figures -------------------------------------------------------

  // The <details> the user opened, kept across the redraws.
  var opened = {};

  function seriesDetails(key, label, series) {
    var d = el('details', {'data-key': key}, [el('summary', {}, [label])]);
    d.open = !!opened[key];
    d.addEventListener('toggle', function () { opened[key] = d.open; });
    var rows = series.map(function (s) {
      return el('tr', {}, [el('td', {}, [s.series]), el('td', {}, [String(s.value)])]);
    });
    d.appendChild(el('table', {}, rows));
    return d;
  }

  function figureCell(column, figures) {
    var td = el('td', {'data-column': column});
    figures.filter(function (f) { return f.column === column; }).forEach(function (f) {
      var bad = f.value > 0 && column !== 'received' && column !== 'written';
      var text = fmt(f.value) + (f.unit ? ' ' + f.unit : '');
      td.appendChild(el('span', {
        className: 'fig' + (bad ? ' bad' : ''),
        title: f.series.length ? 'the sum of\n' + f.series.join('\n') : 'none of its series counts here',
        'data-unit': f.unit,
        'data-value': String(f.value)
      }, [text]));
    });
    return td;
  }

  function row(pipeline, kind, c, columns) {
    var name = c.name + (c.protocol ? ' ' : '');
    var head = el('th', {}, [seriesDetails(pipeline + '\u0000' + kind + '\u0000' + c.name, name, c.series)]);
    if (c.protocol) head.querySelector('summary').appendChild(el('span', {className: 'kind'}, [c.protocol]));
    var tr = el('tr', {'data-pipeline': pipeline, 'data-kind': kind, 'data-name': c.name}, [head]);
    columns.forEach(function (col) { tr.appendChild(figureCell(col, c.figures)); });
    return tr;
  }

  function table(heads, rows) {
    var tr = el('tr', {}, heads.map(function (h) { return el('th', {}, [h]); }));
    return el('table', {className: 'figures'}, [el('thead', {}, [tr]), el('tbody', {}, rows)]);
  }

  function renderState(st) {
    var out = $('pipelines');
    var parts = [];
    st.pipelines.forEach(function (p) {
      var rows = p.sources.map(function (s) { return row(p.name, 'source', s, COLUMNS.source); });
      rows.push(row(p.name, 'aggregation', p.aggregation, COLUMNS.source));
      var sinkRows = p.sinks.map(function (s) { return row(p.name, 'sink', s, COLUMNS.sink); });
      parts.push(el('article', {className: 'pipeline', 'data-pipeline': p.name}, [
        el('h2', {}, ['pipeline ' + p.name]),
        table(['sources, aggregation'].concat(COLUMNS.source), rows),
        table(['sinks'].concat(COLUMNS.sink), sinkRows)
      ]));
    });
    if (!st.pipelines.length) parts.push(el('p', {className: 'note'}, ['No pipeline runs.']));
    out.replaceChildren.apply(out, parts);
    var d = st.daemon;
    $('daemon').replaceChildren(table(['daemon', 'refused'], [row('', 'daemon', d, ['refused'])]));
    $('no-telemetry').hidden = st.telemetrySinks > 0;
  }

  function pollState() {
    fetch('ui/state', {cache: 'no-store'}).then(function (r) {
      if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
      return r.json();
    }).then(function (st) {
      renderState(st);
      var s = $('state-status');
      s.dataset.state = 'ok';
      s.textContent = 'figures: ' + new Date().toLocaleTimeString();
    }).catch(function (err) {
      var s = $('state-status');
      s.dataset.state = 'error';
      s.textContent = 'figures: ' + err.message;
    });
  }

  // ---- the telemetry stream ---------------------------------------------

  function keyOf(service, metric, statistic) {
    return [service, metric, statistic].map(encodeURIComponent).join('|');
  }

  function parseKey(k) {
    var p = k.split('|').map(decodeURIComponent);
    return {service: p[0], metric: p[1], statistic: p[2]};
  }

  var known = new Map(); // key → {service, metric, statistic}
  var charts = new Map(); // key → chart
  var chosen = []; // charted keys, in order
  var userChose = false; // the address named charts, or the user picked one
  var listDirty = true;
  var ws = null;

  function send(cmd) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(cmd));
  }

  function subscribe(k, on) {
    var t = parseKey(k);
    send({command: on ? 'subscribeMetric' : 'unsubscribeMetric', service: t.service, metric: t.metric, statistic: t.statistic});
  }

  function connect() {
    var url = new URL('telemetry/v2/stream', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var status = $('stream-status');
    ws = new WebSocket(url.href);
    ws.onopen = function () {
      status.dataset.state = 'open';
      status.textContent = 'stream: open';
      send({command: 'getMetrics'});
      chosen.forEach(function (k) { subscribe(k, true); });
    };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg.command === 'metricsList') {
        msg.data.metrics.forEach(function (s) {
          s.children.forEach(function (m) {
            m.children.forEach(function (st) { addKnown(s.name, m.name, st.name); });
          });
        });
      } else if (msg.command === 'newMetric') {
        addKnown(msg.data.service, msg.data.metric, msg.data.statistic);
      } else if (msg.command === 'reportMetric') {
        var c = charts.get(keyOf(msg.data.service, msg.data.metric, msg.data.statistic));
        if (c) c.add(msg.data);
      }
    };
    ws.onclose = function () {
      status.dataset.state = 'closed';
      status.textContent = 'stream: closed, reconnecting';
      ws = null;
      setTimeout(connect, 2000);
    };
  }

  function addKnown(service, metric, statistic) {
    var k = keyOf(service, metric, statistic);
    if (known.has(k)) return;
    known.set(k, {service: service, metric: metric, statistic: statistic});
    listDirty = true;
    // The histogram statistic's value is not one to chart.
    if (!userChose && chosen.length < DEFAULT_CHARTS && statistic !== 'histogram') chart(k, true);
  }

  function saveChoice() {
    var h = chosen.length ? '#charts=' + chosen.join(',') : '';
    history.replaceState(null, '', location.pathname + location.search + h);
  }

  // chart starts or stops charting k.
  function chart(k, on) {
    if (on === charts.has(k)) return;
    if (on) {
      chosen.push(k);
      charts.set(k, new Chart(k));
    } else {
      chosen.splice(chosen.indexOf(k), 1);
      charts.get(k).destroy();
      charts.delete(k);
    }
    subscribe(k, on);
    $('no-charts').hidden = chosen.length > 0;
    listDirty = true;
    if (userChose) saveChoice();
  }

  // Chart is one metric's chart: a line per server (the report's host),
  // over the periods' start times.
  function Chart(k) {
    var t = parseKey(k);
    this.key = k;
    this.points = new Map(); // server → Map(period start in s → value)
    this.unit = '';
    this.dirty = true;
    this.plot = null;
    this.servers = [];
    this.last = el('span', {className: 'last'});
    var close = el('button', {type: 'button', title: 'stop charting'}, ['×']);
    close.addEventListener('click', function () { userChose = true; chart(k, false); });
    this.title = el('span', {className: 'title'}, [t.service ? t.service + ' · ' : '', t.metric + ' ', t.statistic]);
    this.area = el('div');
    this.div = el('div', {
      className: 'chart', 'data-chart': '', 'data-service': t.service, 'data-metric': t.metric,
      'data-statistic': t.statistic, 'data-points': '0'
    }, [el('div', {className: 'chart-head'}, [this.title, this.last, close]), this.area]);
    $('charts').appendChild(this.div);
  }

  Chart.prototype.add = function (d) {
    var server = d.server === null ? '(no host)' : d.server;
    var m = this.points.get(server);
    if (!m) {
      m = new Map();
      this.points.set(server, m);
    }
    m.set(d.timestamp / 1000, d.data); // a later report of a period replaces its value
    if (d.numeratorUnits.length) this.unit = d.numeratorUnits[0].toLowerCase();
    this.dirty = true;
  };

  // draw hands the points to uPlot (a new plot when the servers changed)
  // and writes the last values, which the page's test reads too.
  Chart.prototype.draw = function () {
    if (!this.dirty) return;
    this.dirty = false;
    var servers = Array.from(this.points.keys()).sort();
    var newest = -Infinity;
    this.points.forEach(function (m) { m.forEach(function (v, ts) { newest = Math.max(newest, ts); }); });
    var xs = new Set();
    this.points.forEach(function (m) {
      m.forEach(function (v, ts) {
        if (ts < newest - KEEP_MS / 1000) m.delete(ts); else xs.add(ts);
      });
    });
    var x = Array.from(xs).sort(function (a, b) { return a - b; });
    var data = [x].concat(servers.map(function (s) {
      var m = this.points.get(s);
      return x.map(function (ts) { return m.has(ts) ? m.get(ts) : null; });
    }, this));
    var width = Math.max(this.area.clientWidth, 200);
    if (!this.plot || servers.join('\u0000') !== this.servers.join('\u0000')) {
      if (this.plot) this.plot.destroy();
      this.servers = servers;
      var unit = this.unit;
      this.plot = new uPlot({
        width: width, height: 200,
        // At least a minute wide: a new chart's few points at its right.
        scales: {x: {time: true, range: function (u, min, max) { return [Math.min(min, max - 60), max]; }}},
        series: [{}].concat(servers.map(function (s, i) {
          return {label: s, stroke: COLORS[i % COLORS.length], width: 1.5, value: function (u, v) { return fmt(v) + (unit ? ' ' + unit : ''); }};
        })),
        axes: [{}, {size: 70, values: function (u, vals) { return vals.map(fmt); }}]
      }, data, this.area);
    } else {
      this.plot.setData(data);
    }
    // The last values, read back from what the plot was given.
    var shown = this.plot.data, last = [], points = 0;
    for (var i = 1; i < shown.length; i++) {
      var v = null;
      for (var j = shown[i].length - 1; j >= 0; j--) {
        if (shown[i][j] !== null) {
          if (v === null) v = shown[i][j];
          points++;
        }
      }
      last.push(el('span', {'data-server': servers[i - 1], 'data-value': String(v)},
        [servers[i - 1] + ' ' + fmt(v) + (this.unit ? ' ' + this.unit : '') + ' ']));
    }
    this.last.replaceChildren.apply(this.last, last);
    this.div.dataset.points = String(points);
  };

  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({width: Math.max(this.area.clientWidth, 200), height: 200});
  };

  Chart.prototype.destroy = function () {
    if (this.plot) this.plot.destroy();
    this.div.remove();
  };

  // ---- the picker ---------------------------------------------------------

  function renderList() {
    if (!listDirty) return;
    listDirty = false;
    var filter = $('filter').value.toLowerCase();
    var groups = new Map(); // service|metric → [keys]
    known.forEach(function (t, k) {
      if (filter && (t.service + ' ' + t.metric + ' ' + t.statistic).toLowerCase().indexOf(filter) < 0) return;
      var g = keyOf(t.service, t.metric, '');
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(k);
    });
    var names = Array.from(groups.keys()).sort();
    var items = names.slice(0, MAX_LISTED).map(function (g) {
      var keys = groups.get(g).sort();
      var first = known.get(keys[0]);
      var chips = keys.map(function (k) {
        var t = known.get(k);
        var b = el('button', {
          type: 'button', className: 'chip' + (charts.has(k) ? ' on' : ''),
          'data-service': t.service, 'data-metric': t.metric, 'data-statistic': t.statistic
        }, [t.statistic]);
        b.addEventListener('click', function () { userChose = true; chart(k, !charts.has(k)); renderList(); });
        return b;
      });
      return el('div', {className: 'metric'}, [
        el('span', {className: 'name'}, [el('span', {className: 'service'}, [first.service ? first.service + ' · ' : '']), first.metric])
      ].concat(chips));
    });
    if (names.length > MAX_LISTED) {
      items.push(el('p', {className: 'note'}, [(names.length - MAX_LISTED) + ' more: filter to narrow']));
    }
    if (!known.size) items.push(el('p', {className: 'note'}, ['No metric on the stream yet.']));
    $('metrics').replaceChildren.apply($('metrics'), items);
  }

  // ---- start --------------------------------------------------------------

  var m = /^#charts=(.+)$/.exec(location.hash);
  if (m) {
    userChose = true;
    m[1].split(',').forEach(function (k) { if (k) chart(k, true); });
  }
  $('filter').addEventListener('input', function () { listDirty = true; renderList(); });
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
  pollState();
  connect();
  setInterval(function () {
    pollState();
    charts.forEach(function (c) { c.draw(); });
    renderList();
  }, REFRESH_MS);
  renderList();
})();
