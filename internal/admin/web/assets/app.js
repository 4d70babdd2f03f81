// Draws the search page's charts from the JSON the server put in #chart-data.
// Each chart is reachable as Chart.getChart(id), which the browser test reads.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  // A fixed palette (Okabe–Ito, readable with colour blindness), cycled.
  const palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];
  Chart.defaults.animation = false; // the page is a report, and the test reads it at once

  new Chart(document.getElementById("rules-per-day"), {
    type: "bar",
    data: {
      labels: data.days || [],
      datasets: (data.rules || []).map((rule, i) => ({
        label: rule, data: data.rule_counts[rule], backgroundColor: palette[i % palette.length],
      })),
    },
    options: {
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "calls" } } },
    },
  });

  new Chart(document.getElementById("reject-rate"), {
    type: "bar",
    data: {
      labels: (data.campaigns || []).map((c) => c || "(none)"),
      datasets: [{ label: "rejected, % of calls", data: data.reject_rate || [], backgroundColor: palette[1] }],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } },
      plugins: {
        tooltip: { callbacks: { afterLabel: (ctx) => data.rejected[ctx.dataIndex] + " of " + data.calls[ctx.dataIndex] + " calls" } },
      },
    },
  });
})();
