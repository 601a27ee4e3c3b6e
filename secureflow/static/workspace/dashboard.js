/* Dashboard charts (Chart.js), drawn from the JSON the page carries; redrawn after an
   HTMX swap of the dashboard body. The tables next to each chart hold the same numbers. */
(function () {
  "use strict";
  var charts = [];
  var ink = "#1d2433", muted = "#5b6478", brand = "#0b5cad", bad = "#b42318", warn = "#b54708";

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    charts.push(new window.Chart(canvas, config));
  }

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var node = document.getElementById("dashboard-data");
    if (!node) return;
    var d = JSON.parse(node.textContent);
    var common = { responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { color: ink } } } };
    make("chart-daily", {
      data: { labels: d.days, datasets: [
        { type: "bar", label: "Transactions", data: d.transactions, backgroundColor: "rgba(11,92,173,0.35)", yAxisID: "y" },
        { type: "line", label: "Flagged", data: d.flagged, borderColor: bad, backgroundColor: bad, yAxisID: "y1", tension: 0.2 }
      ] },
      options: Object.assign({}, common, { scales: {
        y: { beginAtZero: true, title: { display: true, text: "transactions", color: muted } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "flagged", color: muted } }
      } })
    });
    make("chart-histogram", {
      type: "bar",
      data: { labels: d.histogram_labels, datasets: [{ label: "Transactions", data: d.histogram,
        backgroundColor: d.histogram_low.map(function (low) {
          if (d.block_threshold !== null && low >= d.block_threshold - 1e-9) return bad;
          if (d.review_threshold !== null && low >= d.review_threshold - 1e-9) return warn;
          return brand;
        }) }] },
      options: Object.assign({}, common, { plugins: { legend: { display: false } },
        scales: { y: { type: "logarithmic", title: { display: true, text: "transactions (log scale)", color: muted } } } })
    });
    if (d.alerts) {
      make("chart-alerts", {
        type: "bar",
        data: { labels: d.days, datasets: [{ label: "Alerts", data: d.alerts, backgroundColor: warn }] },
        options: Object.assign({}, common, { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } })
      });
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", function (e) {
    if (document.getElementById("dashboard-data")) draw();
  });
})();
