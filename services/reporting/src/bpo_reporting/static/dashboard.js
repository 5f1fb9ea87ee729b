// Draws the dashboard's charts from the figures the page carries; fetches nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);

  function width(el) {
    return Math.max(el.clientWidth || 0, 300);
  }

  // The buckets are UTC hours and days: the axis says them in UTC too, not in this
  // computer's time zone (where a day's bucket would be labelled the day before or after).
  function utc(seconds) {
    return uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");
  }

  function timeChart(id, series, values) {
    var el = document.getElementById(id);
    var opts = {
      width: width(el),
      height: 240,
      tzDate: utc,
      scales: { x: { time: true } },
      series: [{}].concat(series),
      axes: [{}, {}],
    };
    return new uPlot(opts, [data.throughput.t].concat(values), el);
  }

  function barChart(id, labels, values, label, color, top) {
    var el = document.getElementById(id);
    var xs = labels.map(function (_, i) { return i; });
    var opts = {
      width: width(el),
      height: 240,
      scales: {
        x: { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] },
        // Bars stand on zero; a fixed top (100 %) when the figure has one.
        y: { range: function (u, min, max) { return [0, top || Math.max(max, 1)]; } },
      },
      series: [
        {},
        { label: label, stroke: color, fill: color, paths: uPlot.paths.bars({ size: [0.6, 60] }),
          points: { show: false } },
      ],
      axes: [
        { splits: function () { return xs; },
          values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); } },
        {},
      ],
    };
    return new uPlot(opts, [xs, values], el);
  }

  timeChart("chart-throughput", [
    { label: "received", stroke: "#1f77b4", width: 2 },
    { label: "completed", stroke: "#2ca02c", width: 2 },
  ], [data.throughput.received, data.throughput.completed]);

  timeChart("chart-sla", [
    { label: "on time", stroke: "#2ca02c", fill: "rgba(44,160,44,0.25)", width: 2 },
    { label: "late", stroke: "#d62728", fill: "rgba(214,39,40,0.25)", width: 2 },
  ], [data.throughput.sla_met, data.throughput.sla_missed]);

  barChart("chart-backlog", data.backlog.labels, data.backlog.values, "open items", "#ff7f0e");
  barChart("chart-accuracy", data.accuracy.labels, data.accuracy.values, "accuracy %", "#9467bd", 100);

  // A link to a table in a closed <details> (a chart's "As a table") opens it: followed by
  // itself, a browser scrolls to the closed summary and leaves the table hidden, and a
  // screen reader, for which the chart is hidden, hears only the summary.
  function reveal(hash) {
    var target = hash.length > 1 ? document.getElementById(decodeURIComponent(hash.slice(1))) : null;
    var details = target && target.closest("details");
    if (details) details.open = true;
  }

  // A click, or Enter on the link (which clicks it), even when the address already names it.
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
    if (link) reveal(link.getAttribute("href"));
  });
  // Back and forward between the page's own places, and the address it was opened with.
  window.addEventListener("hashchange", function () { reveal(location.hash); });
  reveal(location.hash);
  document.body.setAttribute("data-charts", "drawn");
})();
