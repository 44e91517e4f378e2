/* The analytics dashboard: a date range, key figures, and one chart per question. */
(function () {
  "use strict";
  var A = window.ZxAnalytics;
  var form = document.getElementById("range-form");
  var fromInput = document.getElementById("range-from");
  var toInput = document.getElementById("range-to");
  var monthInput = document.getElementById("report-month");

  function initialRange() {
    var params = new URLSearchParams(location.search);
    var today = new Date();
    var start = new Date(today.getTime() - 29 * 86400000);
    fromInput.value = params.get("from") || A.localDay(start);
    toInput.value = params.get("to") || A.localDay(today);
    monthInput.value = toInput.value.slice(0, 7);
  }

  function kpi(label, value) {
    var box = document.createElement("div");
    box.className = "kpi";
    var strong = document.createElement("strong");
    strong.textContent = value;
    var span = document.createElement("span");
    span.textContent = label;
    box.appendChild(strong);
    box.appendChild(span);
    return box;
  }

  function renderKpis(s) {
    var box = document.getElementById("kpis");
    box.textContent = "";
    var e = s.efficiency, q = s.quality, r = s.satisfaction.ratings, f = s.satisfaction.followups, c = s.coverage;
    [
      ["会话数", A.num(e.conversations)],
      ["群众消息", A.num(e.messages.citizen)],
      ["首次响应（中位数）", A.seconds(e.first_reply_seconds.median)],
      ["排队等待（中位数）", A.seconds(e.queue_wait_seconds.median)],
      ["自助解决率", A.pct(q.self_service.rate)],
      ["转人工率", A.pct(q.handoffs.rate)],
      ["评价数", A.num(r.total)],
      ["满意率", A.pct(r.satisfaction_rate)],
      ["回访整改按时率", A.pct(f.on_time_rate)],
      ["长辈模式占比", A.pct(c.elderly_mode.share)],
      ["语音用户占比", A.pct(c.voice.share)]
    ].forEach(function (item) { box.appendChild(kpi(item[0], item[1])); });
  }

  // Keys "00".."23" are sorted by hand: JavaScript objects put integer-like keys ("10") first.
  function hourKeys(object) { return Object.keys(object).sort(); }

  function bars(id, labels, values, name, horizontal) {
    var every = labels.length > 12 ? "auto" : 0;
    var category = { type: "category", data: labels, axisLabel: { interval: every, width: 120, overflow: "truncate" } };
    var value = { type: "value", minInterval: 1 };
    A.chart(id, {
      grid: { left: horizontal ? 130 : 40, right: 20, top: 20, bottom: 30 },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign(category, { inverse: true }) : value,
      tooltip: { trigger: "axis" },
      series: [{ name: name, type: "bar", data: values, itemStyle: { color: "#b71c1c" } }]
    });
  }

  function pie(id, entries) {
    A.chart(id, {
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], data: entries, label: { formatter: "{b}: {c}" } }]
    });
  }

  function renderEfficiency(e) {
    var days = Object.keys(e.by_day);
    var pick = function (key) { return days.map(function (d) { return e.by_day[d][key]; }); };
    A.chart("chart-by-day", {
      legend: { top: 0 }, grid: { left: 40, right: 20, top: 30, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "会话", type: "line", data: pick("conversations") },
        { name: "群众消息", type: "line", data: pick("citizen_messages") },
        { name: "转人工", type: "bar", data: pick("tickets") }
      ]
    });
    var hours = hourKeys(e.by_hour);
    bars("chart-by-hour", hours.map(function (h) { return h + "时"; }),
      hours.map(function (h) { return e.by_hour[h].conversations; }), "会话");
  }

  function renderQuality(q) {
    var p = q.policy_replies;
    pie("chart-decisions", ["answer", "clarify", "abstain", "refuse", "unavailable"].map(function (k) {
      return { name: A.DECISION_NAMES[k], value: p[k] };
    }));
    var services = Object.keys(q.top_services);
    bars("chart-services", services.map(function (id) { return q.top_services[id].title || id; }),
      services.map(function (id) { return q.top_services[id].conversations; }), "会话", true);
    var departments = Object.keys(q.top_departments);
    bars("chart-departments", departments, departments.map(function (d) { return q.top_departments[d]; }), "会话", true);
    var reasons = Object.keys(q.handoffs.by_reason);
    bars("chart-reasons", reasons.map(function (r) { return A.name(A.REASON_NAMES, r); }),
      reasons.map(function (r) { return q.handoffs.by_reason[r]; }), "工单", true);
  }

  function stacked(id, groups, labels) {
    var keys = Object.keys(groups);
    A.chart(id, {
      legend: { top: 0 }, grid: { left: 80, right: 20, top: 30, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: keys.map(function (k) { return labels ? A.name(labels, k) : k; }) },
      series: A.levelSeries(groups, keys)
    });
  }

  function renderSatisfaction(s) {
    var r = s.ratings, f = s.followups;
    pie("chart-levels", A.LEVELS.map(function (level) {
      return { name: A.LEVEL_NAMES[level], value: r.by_level[level], itemStyle: { color: A.LEVEL_COLORS[level] } };
    }));
    stacked("chart-rating-channels", r.by_channel, A.CHANNEL_NAMES);
    stacked("chart-rating-elderly", r.by_elderly_mode, { elderly: "长辈模式", standard: "标准模式" });
    bars("chart-followups", ["新增回访", "待回访", "已回访", "已整改", "按时整改", "超期"],
      [f.opened, f.open, f.visited, f.rectified, f.on_time, f.overdue], "件");
  }

  function renderCoverage(c) {
    var days = Object.keys(c.load_by_weekday_hour);
    var hours = hourKeys(c.load_by_weekday_hour[days[0]]);
    var cells = [], max = 1;
    days.forEach(function (d, y) {
      hours.forEach(function (h, x) {
        var v = c.load_by_weekday_hour[d][h];
        max = Math.max(max, v);
        cells.push([x, y, v]);
      });
    });
    A.chart("chart-load", {
      tooltip: { position: "top" }, grid: { left: 50, right: 20, top: 10, bottom: 70 },
      xAxis: { type: "category", data: hours.map(function (h) { return h + "时"; }), splitArea: { show: true } },
      yAxis: { type: "category", data: days.map(function (d) { return A.WEEKDAY_NAMES[d]; }), splitArea: { show: true } },
      visualMap: { min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
        inRange: { color: ["#fff5f5", "#b71c1c"] } },
      series: [{ name: "群众消息", type: "heatmap", data: cells, label: { show: false } }]
    });
    var channels = Object.keys(c.by_channel);
    bars("chart-channels", channels.map(function (k) { return A.name(A.CHANNEL_NAMES, k); }),
      channels.map(function (k) { return c.by_channel[k].conversations; }), "会话");
    var staff = Object.keys(c.staff_workload);
    A.chart("chart-staff", {
      legend: { top: 0 }, grid: { left: 80, right: 20, top: 30, bottom: 30 }, tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: staff },
      series: [
        { name: "接单", type: "bar", data: staff.map(function (n) { return c.staff_workload[n].tickets_claimed; }) },
        { name: "办结", type: "bar", data: staff.map(function (n) { return c.staff_workload[n].tickets_closed; }) },
        { name: "回访", type: "bar", data: staff.map(function (n) { return c.staff_workload[n].followups_visited; }) }
      ]
    });
  }

  function load() {
    var from = fromInput.value, to = toInput.value;
    var query = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    document.getElementById("csv-link").href = "/api/analytics/summary.csv" + query;
    history.replaceState(null, "", location.pathname + query);
    A.showStatus("正在统计…", false);
    A.fetchSummary(from, to).then(function (summary) {
      document.getElementById("dashboard").hidden = false;
      A.showStatus("统计区间：" + summary.from + " 至 " + summary.to + "（北京时间）", false);
      renderKpis(summary);
      renderEfficiency(summary.efficiency);
      renderQuality(summary.quality);
      renderSatisfaction(summary.satisfaction);
      renderCoverage(summary.coverage);
    }).catch(function (failure) {
      document.getElementById("dashboard").hidden = true;
      A.showStatus(failure.message || "统计数据暂时无法获取。", true);
    });
  }

  function updateReportLink() {
    var link = document.getElementById("report-link");
    link.href = "/console/analytics/report" + (monthInput.value ? "?month=" + encodeURIComponent(monthInput.value) : "");
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  monthInput.addEventListener("change", updateReportLink);
  initialRange();
  updateReportLink();
  load();
})();
