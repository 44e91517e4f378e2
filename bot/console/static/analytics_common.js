/* Shared by the analytics dashboard and the monthly report: fetching the summary, wording,
   number formats and ECharts set-up. Text goes into the page with textContent only. */
(function () {
  "use strict";

  var LEVELS = ["5", "4", "3", "2", "1"];
  var LEVEL_NAMES = { "5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意" };
  var LEVEL_COLORS = { "5": "#2e7d32", "4": "#66bb6a", "3": "#fbc02d", "2": "#ef6c00", "1": "#c62828" };
  var DECISION_NAMES = {
    answer: "解答", clarify: "追问澄清", abstain: "无可靠答案", refuse: "拒绝", unavailable: "暂不可用"
  };
  var CHANNEL_NAMES = { web: "网页", api: "接口", wechat: "微信", unknown: "未知" };
  var REASON_NAMES = {
    request_human: "群众要求转人工", complain: "投诉或不满", retrieval_abstain: "知识库没有可靠答案",
    clarify_rejected: "两次追问未对上", status_check_failed: "办件查询核验未通过"
  };
  var WEEKDAY_NAMES = { mon: "周一", tue: "周二", wed: "周三", thu: "周四", fri: "周五", sat: "周六", sun: "周日" };

  function Failure(status, message) { this.status = status; this.message = message; }

  function fetchSummary(from, to) {
    var query = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    return fetch("/api/analytics/summary" + query, { credentials: "same-origin" }).then(function (response) {
      if (response.ok) return response.json();
      return response.json().catch(function () { return {}; }).then(function (body) {
        var detail = typeof body.detail === "string" ? body.detail : "";
        if (response.status === 401) throw new Failure(401, "请先在人工坐席控制台登录（管理员账号），再打开本页。");
        if (response.status === 403) throw new Failure(403, "服务成效分析仅管理员可查看。");
        throw new Failure(response.status, detail || "统计数据暂时无法获取，请稍后重试。");
      });
    });
  }

  function pct(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%"; }
  function num(value) { return value === null || value === undefined ? "—" : String(value); }
  function seconds(value) {
    if (value === null || value === undefined) return "—";
    if (value < 60) return value.toFixed(1) + " 秒";
    if (value < 3600) return (value / 60).toFixed(1) + " 分钟";
    return (value / 3600).toFixed(1) + " 小时";
  }
  function name(map, key) { return map[key] || key; }

  var charts = [];
  function chart(id, option) {
    var element = document.getElementById(id);
    if (!element || !window.echarts) return null;
    var existing = window.echarts.getInstanceByDom(element);
    var instance = existing || window.echarts.init(element, null, { renderer: "canvas" });
    if (!existing) charts.push(instance);
    // Tooltips drawn on the canvas: HTML tooltips carry inline styles the console's CSP blocks.
    option.tooltip = Object.assign({ renderMode: "richText", confine: true }, option.tooltip || {});
    option.animation = false;
    instance.setOption(option, true);
    element.setAttribute("data-rendered", "1");
    return instance;
  }
  function resizeAll() { charts.forEach(function (c) { c.resize(); }); }
  window.addEventListener("resize", resizeAll);
  // Printing lays the page out narrower than the screen: redraw the charts to fit the paper.
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  if (window.matchMedia) {
    var printing = window.matchMedia("print");
    if (printing.addEventListener) printing.addEventListener("change", resizeAll);
  }

  function localDay(date) {
    var offset = date.getTimezoneOffset() * 60000;
    return new Date(date.getTime() - offset).toISOString().slice(0, 10);
  }

  function showStatus(text, isError) {
    var status = document.getElementById("status");
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function row(table, label, value) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    var td = document.createElement("td");
    th.textContent = label;
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    table.appendChild(tr);
  }

  function levelSeries(groups, keys) {
    return LEVELS.map(function (level) {
      return {
        name: LEVEL_NAMES[level], type: "bar", stack: "levels", itemStyle: { color: LEVEL_COLORS[level] },
        data: keys.map(function (key) { return groups[key].by_level[level]; })
      };
    });
  }

  window.ZxAnalytics = {
    LEVELS: LEVELS, LEVEL_NAMES: LEVEL_NAMES, LEVEL_COLORS: LEVEL_COLORS, DECISION_NAMES: DECISION_NAMES,
    CHANNEL_NAMES: CHANNEL_NAMES, REASON_NAMES: REASON_NAMES, WEEKDAY_NAMES: WEEKDAY_NAMES,
    fetchSummary: fetchSummary, pct: pct, num: num, seconds: seconds, name: name, chart: chart,
    localDay: localDay, showStatus: showStatus, row: row, levelSeries: levelSeries
  };
})();
