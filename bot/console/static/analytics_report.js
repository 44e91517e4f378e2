/* The printable monthly report: one month's summary as tables and two charts. */
(function () {
  "use strict";
  var A = window.ZxAnalytics;
  var monthInput = document.getElementById("month");

  function lastDay(month) {
    var year = Number(month.slice(0, 4)), m = Number(month.slice(5, 7));
    return month + "-" + String(new Date(Date.UTC(year, m, 0)).getUTCDate()).padStart(2, "0");
  }

  function table(id, rows) {
    var element = document.getElementById(id);
    element.textContent = "";
    rows.forEach(function (r) { A.row(element, r[0], r[1]); });
  }

  function render(s, month) {
    var e = s.efficiency, q = s.quality, r = s.satisfaction.ratings, f = s.satisfaction.followups, c = s.coverage;
    document.getElementById("report-title").textContent =
      month.slice(0, 4) + "年" + Number(month.slice(5, 7)) + "月 智询服务成效月度报告";
    document.getElementById("report-period").textContent =
      "统计区间：" + s.from + " 至 " + s.to + "（北京时间）；生成时间：" + s.generated_at;
    table("table-efficiency", [
      ["会话数", A.num(e.conversations)],
      ["消息数（群众 / 智能 / 人工）", [e.messages.citizen, e.messages.bot, e.messages.staff].join(" / ")],
      ["每会话消息数", A.num(e.messages_per_conversation)],
      ["首次响应时间（中位数 / 90% 分位）", A.seconds(e.first_reply_seconds.median) + " / " + A.seconds(e.first_reply_seconds.p90)],
      ["排队等待时间（中位数 / 90% 分位）", A.seconds(e.queue_wait_seconds.median) + " / " + A.seconds(e.queue_wait_seconds.p90)],
      ["人工处理时长（中位数）", A.seconds(e.handling_seconds.median)]
    ]);
    var p = q.policy_replies;
    table("table-quality", [
      ["自助解决率（有解答且未转人工）", A.pct(q.self_service.rate)],
      ["未转人工率（containment）", A.pct(q.containment.rate)],
      ["智能问答次数", A.num(p.total)],
      ["解答率 / 追问率 / 无可靠答案率", [A.pct(p.answer_rate), A.pct(p.clarify_rate), A.pct(p.abstain_rate)].join(" / ")],
      ["转人工工单（会话占比）", q.handoffs.tickets + "（" + A.pct(q.handoffs.rate) + "）"],
      ["工单办结率", A.pct(q.handoffs.completion_rate)],
      ["回电登记 / 已回电", q.callbacks.requested + " / " + q.callbacks.completed]
    ]);
    var services = document.getElementById("table-services");
    services.textContent = "";
    var caption = document.createElement("caption");
    caption.textContent = "咨询最多的事项";
    services.appendChild(caption);
    Object.keys(q.top_services).forEach(function (id) {
      var item = q.top_services[id];
      A.row(services, (item.title || id) + (item.department ? "（" + item.department + "）" : ""), item.conversations + " 个会话");
    });
    table("table-satisfaction", [
      ["评价数", A.num(r.total)],
      ["满意率（非差评占比）", A.pct(r.satisfaction_rate)],
      ["平均分（5 分制）", A.num(r.average)],
      ["差评数", A.num(r.bad)],
      ["长辈模式满意率 / 标准模式满意率", A.pct(r.by_elderly_mode.elderly.satisfaction_rate) + " / " + A.pct(r.by_elderly_mode.standard.satisfaction_rate)],
      ["差评回访：新增 / 已整改 / 按时 / 超期", [f.opened, f.rectified, f.on_time, f.overdue].join(" / ")],
      ["回访整改按时率", A.pct(f.on_time_rate)]
    ]);
    table("table-coverage", Object.keys(c.by_channel).map(function (k) {
      return ["渠道：" + A.name(A.CHANNEL_NAMES, k), c.by_channel[k].conversations + " 个会话，" + c.by_channel[k].tickets + " 个工单"];
    }).concat([
      ["长辈模式会话占比", A.pct(c.elderly_mode.share)],
      ["语音会话占比", A.pct(c.voice.share)]
    ]));
    table("table-staff", Object.keys(c.staff_workload).map(function (n) {
      var w = c.staff_workload[n];
      return ["坐席 " + n, "接单 " + w.tickets_claimed + "，办结 " + w.tickets_closed + "，消息 " + w.messages +
        "，回访 " + w.followups_visited + "，整改 " + w.followups_rectified];
    }));
    var days = Object.keys(e.by_day);
    A.chart("chart-by-day", {
      legend: { top: 0 }, grid: { left: 40, right: 20, top: 30, bottom: 30 },
      xAxis: { type: "category", data: days.map(function (d) { return d.slice(8); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "会话", type: "bar", data: days.map(function (d) { return e.by_day[d].conversations; }) },
        { name: "转人工", type: "bar", data: days.map(function (d) { return e.by_day[d].tickets; }) }
      ]
    });
    A.chart("chart-levels", {
      grid: { left: 80, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: A.LEVELS.map(function (l) { return A.LEVEL_NAMES[l]; }) },
      series: [{ type: "bar", data: A.LEVELS.map(function (l) {
        return { value: r.by_level[l], itemStyle: { color: A.LEVEL_COLORS[l] } };
      }) }]
    });
  }

  function load(month) {
    A.showStatus("正在生成报告…", false);
    A.fetchSummary(month + "-01", lastDay(month)).then(function (summary) {
      document.getElementById("report").hidden = false;
      A.showStatus("", false);
      render(summary, month);
    }).catch(function (failure) {
      document.getElementById("report").hidden = true;
      A.showStatus(failure.message || "统计数据暂时无法获取。", true);
    });
  }

  var params = new URLSearchParams(location.search);
  var wanted = params.get("month");
  if (!wanted || !/^[0-9]{4}-[0-9]{2}$/.test(wanted)) {
    var now = new Date();
    var previous = new Date(now.getFullYear(), now.getMonth() - 1, 1);
    wanted = A.localDay(new Date(previous.getTime() + 12 * 3600000)).slice(0, 7);
  }
  monthInput.value = wanted;
  document.getElementById("month-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (monthInput.value) location.search = "?month=" + encodeURIComponent(monthInput.value);
  });
  document.getElementById("print").addEventListener("click", function () { window.print(); });
  load(wanted);
})();
