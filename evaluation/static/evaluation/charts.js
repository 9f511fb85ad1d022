/* Statistics charts (Chart.js from static/vendor/chartjs: no CDN). Data from the page's json_script. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var node = document.getElementById("evaluation-statistics-data");
  var canvas = document.getElementById("chart-statistics");
  if (!node || !canvas) { return; }
  var data = JSON.parse(node.textContent);
  var COLOURS = ["#1f4e8c", "#b3261e", "#1a7f37", "#9a6700", "#5f6368", "#7b3fa0", "#00838f", "#c2185b"];
  Chart.defaults.font.family = '"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif';
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  new Chart(canvas, {
    type: data.type,
    data: {
      labels: data.labels,
      datasets: data.series.map(function (s, i) {
        var c = COLOURS[i % COLOURS.length];
        return { label: s.label, data: s.data, borderColor: c, backgroundColor: c, tension: 0.2 };
      })
    },
    options: { plugins: { title: { display: true, text: data.measure } } }
  });
}());
