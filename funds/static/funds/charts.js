/* Funds dashboard charts (Chart.js, shipped in static/vendor/chartjs: no CDN). Labels are Chinese; the
   font is the system's CJK font, the same stack as the pages (static/css/app.css). */
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  Chart.defaults.font.family = '"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif';
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  var BLUE = "#1f4e8c", RED = "#b3261e", GREEN = "#1a7f37", AMBER = "#9a6700", GREY = "#5f6368";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function yuan(value) {
    if (value === null || value === undefined) { return "—"; }
    var abs = Math.abs(value);
    if (abs >= 1e8) { return (value / 1e8).toFixed(2) + " 亿元"; }
    if (abs >= 1e4) { return (value / 1e4).toFixed(1) + " 万元"; }
    return value.toFixed(2) + " 元";
  }
  function moneyAxis() {
    return { ticks: { callback: function (v) { return yuan(v); } } };
  }
  function tooltipMoney() {
    return { callbacks: { label: function (ctx) { return ctx.dataset.label + "：" + yuan(ctx.parsed.y); } } };
  }
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }
  function flat(labels, value) {
    return labels.map(function () { return value; });
  }

  var overview = data("funds-overview-data");
  if (overview) {
    draw("chart-balances", {
      type: "bar",
      data: { labels: overview.labels, datasets: [{ label: "累计结余", data: overview.balances, backgroundColor: BLUE }] },
      options: { scales: { y: moneyAxis() }, plugins: { legend: { display: false }, tooltip: tooltipMoney() } }
    });
    draw("chart-months", {
      type: "bar",
      data: { labels: overview.labels, datasets: [{ label: "可支付月数", data: overview.months, backgroundColor: GREEN }] },
      options: { scales: { y: { title: { display: true, text: "月" } } }, plugins: { legend: { display: false } } }
    });
  }

  var fund = data("funds-fund-data");
  if (fund) {
    draw("chart-balance", {
      type: "line",
      data: { labels: fund.months, datasets: [{ label: "月末累计结余", data: fund.balance, borderColor: BLUE, backgroundColor: BLUE, tension: 0.2 }] },
      options: { scales: { y: moneyAxis() }, plugins: { tooltip: tooltipMoney() } }
    });
    draw("chart-flows", {
      type: "bar",
      data: {
        labels: fund.months,
        datasets: [
          { label: "收入", data: fund.income, backgroundColor: GREEN },
          { label: "支出", data: fund.expenditure, backgroundColor: RED }
        ]
      },
      options: { scales: { y: moneyAxis() }, plugins: { tooltip: tooltipMoney() } }
    });
    var sets = [{ label: "可支付月数", data: fund.coverage, borderColor: BLUE, backgroundColor: BLUE, tension: 0.2 }];
    var t = fund.thresholds || {};
    if (t.alarm_below) { sets.push({ label: "警报线（" + t.alarm_below + " 个月）", data: flat(fund.coverage_days, Number(t.alarm_below)), borderColor: RED, borderDash: [6, 4], pointRadius: 0 }); }
    if (t.warn_below) { sets.push({ label: "预警线（" + t.warn_below + " 个月）", data: flat(fund.coverage_days, Number(t.warn_below)), borderColor: AMBER, borderDash: [6, 4], pointRadius: 0 }); }
    if (t.excess_above) { sets.push({ label: "结余过多线（" + t.excess_above + " 个月）", data: flat(fund.coverage_days, Number(t.excess_above)), borderColor: GREY, borderDash: [2, 4], pointRadius: 0 }); }
    draw("chart-coverage", {
      type: "line",
      data: { labels: fund.coverage_days, datasets: sets },
      options: { scales: { y: { title: { display: true, text: "月" } } } }
    });
    if (fund.execution) {
      draw("chart-execution", {
        type: "bar",
        data: {
          labels: fund.execution.labels,
          datasets: [
            { label: "全年预算", data: fund.execution.annual, backgroundColor: "#c7d5ea" },
            { label: "进度预算", data: fund.execution.budget_to_date, backgroundColor: BLUE },
            { label: "累计实际", data: fund.execution.actual, backgroundColor: AMBER }
          ]
        },
        options: { scales: { y: moneyAxis() }, plugins: { tooltip: tooltipMoney() } }
      });
    }
  }
}());
