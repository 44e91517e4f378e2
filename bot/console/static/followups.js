// Follow-ups of 差评 (bot/console/followups.py): the list, the rated conversation, and the
// two steps 回访 → 整改. Citizens' and staff's text is only ever set with textContent.
(function () {
  "use strict";
  var BASE = "/api/console/followups";
  var STATUS_LABELS = { open: "待回访", visited: "已回访，待整改", rectified: "已整改" };
  var CHANNEL_LABELS = { web: "网页", api: "接口", wechat: "微信" };
  var SENDER_LABELS = { citizen: "群众", bot: "智询", staff: "工作人员", system: "系统" };
  var state = { csrf: null, status: "open" };

  function $(id) { return document.getElementById(id); }
  function clock(iso) { return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : ""; }

  function api(method, path, body) { return window.zhixunApi(method, path, body, state.csrf); }

  function fact(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    var dt = document.createElement("dt"); dt.textContent = name;
    var dd = document.createElement("dd"); dd.textContent = value;
    list.appendChild(dt); list.appendChild(dd);
  }

  function history(item) {
    var parts = [];
    if (item.visited_at) parts.push("回访：" + item.visited_by + "，" + clock(item.visited_at) + "，" + item.visit_note);
    if (item.rectified_at) {
      parts.push("整改：" + item.rectified_by + "，" + clock(item.rectified_at) + "，" + item.rectify_note +
        (item.on_time ? "（按期完成）" : "（超期完成）"));
    }
    return parts.join("\n");
  }

  function showTranscript(item, list, button) {
    if (!list.hidden) { list.hidden = true; button.textContent = "查看对话"; return; }
    list.textContent = "";
    api("GET", BASE + "/" + item.id + "/transcript").then(function (data) {
      data.lines.forEach(function (line) {
        var li = document.createElement("li");
        li.className = "line " + line.sender;
        li.textContent = (SENDER_LABELS[line.sender] || line.sender) + "：" + line.text;
        list.appendChild(li);
      });
      if (!data.lines.length) list.appendChild(document.createTextNode("没有对话记录。"));
      list.hidden = false; button.textContent = "收起对话";
    }).catch(function (error) { $("fu-error").textContent = error.message; });
  }

  function render(item) {
    var node = $("followup-template").content.firstElementChild.cloneNode(true);
    var rating = item.rating;
    node.dataset.followupId = String(item.id);
    node.classList.toggle("overdue", item.overdue);
    node.querySelector(".fu-level").textContent = rating.level + "分 " + rating.level_name;
    node.querySelector(".fu-status").textContent = STATUS_LABELS[item.status] || item.status;
    node.querySelector(".fu-overdue").hidden = !item.overdue;
    node.querySelector(".fu-deadline").textContent = "回访期限：" + clock(item.deadline_at);
    var facts = node.querySelector(".fu-facts");
    fact(facts, "评价时间", clock(rating.created_at));
    fact(facts, "渠道", CHANNEL_LABELS[rating.channel] || rating.channel);
    fact(facts, "事项", rating.service_title ? rating.service_title + "（" + rating.service_id + "）" : rating.service_id);
    fact(facts, "部门", rating.department);
    fact(facts, "人工工单", rating.ticket_id ? "#" + rating.ticket_id : "无（智能咨询）");
    fact(facts, "长辈模式", rating.elderly_mode ? "是" : "否");
    fact(facts, "语音", rating.voice ? "是" : "否");
    node.querySelector(".fu-comment").textContent = rating.comment || "";
    node.querySelector(".fu-history").textContent = history(item);
    var toggle = node.querySelector(".fu-transcript-toggle");
    var transcript = node.querySelector(".fu-transcript");
    toggle.addEventListener("click", function () { showTranscript(item, transcript, toggle); });

    var form = node.querySelector(".fu-step");
    var step = item.status === "open" ? "visit" : item.status === "visited" ? "rectify" : null;
    if (!step) { form.hidden = true; return node; }
    node.querySelector(".fu-step-label").textContent = step === "visit" ? "回访情况" : "整改措施";
    var submit = node.querySelector(".fu-submit");
    submit.textContent = step === "visit" ? "记录回访" : "记录整改";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var note = node.querySelector(".fu-note").value.trim();
      if (!note) return;
      submit.disabled = true;
      api("POST", BASE + "/" + item.id + "/" + step, { note: note })
        .then(function (updated) { node.replaceWith(render(updated)); $("fu-error").textContent = ""; })
        .catch(function (error) { $("fu-error").textContent = error.message; submit.disabled = false; });
    });
    return node;
  }

  function load() {
    return api("GET", BASE + "?status=" + encodeURIComponent(state.status)).then(function (data) {
      var list = $("followups");
      list.textContent = "";
      data.followups.forEach(function (item) { list.appendChild(render(item)); });
      $("fu-empty").hidden = data.followups.length > 0;
      $("fu-error").textContent = "";
    }).catch(function (error) { $("fu-error").textContent = error.message; });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".fu-tabs [data-status]"), function (tab) {
    tab.addEventListener("click", function () {
      state.status = tab.dataset.status;
      Array.prototype.forEach.call(document.querySelectorAll(".fu-tabs [data-status]"), function (other) {
        other.setAttribute("aria-pressed", other === tab ? "true" : "false");
      });
      load();
    });
  });
  $("refresh").addEventListener("click", load);

  api("GET", "/api/session").then(function (session) {
    state.csrf = session.csrf_token;
    $("me").textContent = session.staff.display_name;
    $("followups-view").hidden = false;
    return load();
  }).catch(function () { $("signed-out").hidden = false; });
})();
