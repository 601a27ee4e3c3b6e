/* Case queue and case page: keyboard shortcuts, select-all, the customer's chart.
   Everything here is an enhancement: every action is a plain form or link without it. */
(function () {
  "use strict";

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function shortcut(key) {
    return document.querySelector('[data-shortcut="' + key + '"]:not([disabled])');
  }

  // -- queue rows: j / k move, o / Enter open, x select ------------------------------------
  var current = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.case-row"));
  }

  function select(index) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("selected", i === current); });
    all[current].scrollIntoView({ block: "nearest" });
  }

  function queueKey(key) {
    var all = rows();
    if (!all.length) return false;
    if (key === "j") { select(current + 1); return true; }
    if (key === "k") { select(current < 0 ? 0 : current - 1); return true; }
    if ((key === "o" || key === "Enter") && current >= 0) {
      window.location.href = all[current].getAttribute("data-href");
      return true;
    }
    if (key === "x" && current >= 0) {
      var box = all[current].querySelector('input[type="checkbox"]');
      if (box) box.checked = !box.checked;
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      if (event.key === "Escape" && typing(event.target)) event.target.blur();
      return;
    }
    var key = event.key;
    if (queueKey(key)) { event.preventDefault(); return; }
    if (key === "n") {
      var note = document.getElementById("case-note");
      if (note) { event.preventDefault(); note.focus(); }
      return;
    }
    var target = shortcut(key);
    if (!target) return;
    event.preventDefault();
    if (target.tagName === "A") {
      window.location.href = target.getAttribute("href");
    } else {
      target.click();
    }
  });

  // After HTMX swaps the queue, the row selection starts again.
  document.addEventListener("htmx:afterSwap", function () { current = -1; });

  // -- select all --------------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (!all) return;
    var form = all.closest("form");
    form.querySelectorAll('input[type="checkbox"][name="cases"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // -- the customer's recent transactions ----------------------------------------------------
  function drawChart() {
    var canvas = document.getElementById("case-history-chart");
    var source = document.getElementById("case-history-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var colours = { "this": "#b42318", flagged: "#b54708", normal: "#0b5cad" };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.points.map(function (p) { return p.label; }),
        datasets: [{
          label: "Amount (" + data.currency + ")",
          data: data.points.map(function (p) { return p.amount; }),
          backgroundColor: data.points.map(function (p) { return colours[p.kind]; }),
        }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              afterLabel: function (item) {
                var p = data.points[item.dataIndex];
                return p.id + (p.kind === "this" ? " (this transaction)" : p.kind === "flagged" ? " (flagged)" : "");
              },
            },
          },
        },
        scales: { x: { ticks: { maxTicksLimit: 8 } }, y: { beginAtZero: true } },
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawChart);
  } else {
    drawChart();
  }
})();
