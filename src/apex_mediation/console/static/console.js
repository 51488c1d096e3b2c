// The console's own behaviour: charts, auto-submitting selects, copy buttons, confirmations and
// list reordering. Loaded from this origin; the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777",
    "#65a30d", "#ea580c", "#475569"];
  var charts = [];

  function draw(canvas, name, data) {
    var part = data[name];
    if (!part || typeof Chart === "undefined") return;
    var line = name === "series";
    var datasets = [{
      label: "Revenue (USD)",
      data: part.revenue,
      borderColor: PALETTE[0],
      backgroundColor: line ? "rgba(37, 99, 235, 0.15)" : PALETTE,
      fill: line,
      tension: 0.25,
      yAxisID: "y"
    }];
    if (line && part.impressions) {
      datasets.push({
        label: "Impressions", data: part.impressions, borderColor: PALETTE[1],
        backgroundColor: PALETTE[1], yAxisID: "y2", tension: 0.25
      });
    }
    var scales = line ? {
      y: { beginAtZero: true, position: "left" },
      y2: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } }
    } : { y: { beginAtZero: true } };
    charts.push(new Chart(canvas, {
      type: line ? "line" : "bar",
      data: { labels: part.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
        plugins: { legend: { display: line } }
      }
    }));
  }

  function loadCharts(root) {
    root.querySelectorAll("[data-charts]").forEach(function (section) {
      fetch(section.getAttribute("data-charts"), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          section.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
            draw(canvas, canvas.getAttribute("data-chart"), data);
          });
        });
    });
  }

  function wire(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (target && navigator.clipboard) {
          navigator.clipboard.writeText(target.textContent.trim()).then(function () {
            button.textContent = "Copied";
          }, function () { button.textContent = "Select and copy"; });
        }
      });
    });
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    root.querySelectorAll("[data-move]").forEach(function (button) {
      button.addEventListener("click", function () {
        var item = button.closest("[data-sortable-item]");
        if (!item) return;
        if (button.getAttribute("data-move") === "up" && item.previousElementSibling) {
          item.parentNode.insertBefore(item, item.previousElementSibling);
        } else if (button.getAttribute("data-move") === "down" && item.nextElementSibling) {
          item.parentNode.insertBefore(item.nextElementSibling, item);
        }
        renumber(item.parentNode);
        button.focus();
      });
    });
  }

  // Waterfall priorities follow the order on screen.
  function renumber(list) {
    list.querySelectorAll("[data-sortable-item]").forEach(function (item, index) {
      var field = item.querySelector("input[data-priority]");
      if (field) field.value = String(index);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    loadCharts(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) { wire(event.target); });
})();

// Reports: typing a start or end date chooses the custom period.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || !input.hasAttribute || !input.hasAttribute("data-custom-range")) return;
    var range = input.form && input.form.querySelector("select[name=range]");
    if (range && input.value) range.value = "custom";
  });
})();
