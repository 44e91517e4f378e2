// The review queue of unanswered questions (bot/console/review.py). Text from citizens and
// staff is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";
  var BASE = "/api/console/review";
  var state = { csrf: null, status: "open", services: [], polling: null };

  function $(id) { return document.getElementById(id); }

  function api(method, path, body) { return window.zhixunApi(method, path, body, state.csrf); }

  var KIND_LABELS = { abstain: "未找到答案", clarify: "追问未选", handoff: "问后转人工" };

  function fillServices(select, suggested) {
    select.textContent = "";
    var first = document.createElement("option");
    first.value = ""; first.textContent = "请选择服务";
    select.appendChild(first);
    state.services.forEach(function (service) {
      var option = document.createElement("option");
      option.value = service.id;
      option.textContent = service.title + "（" + service.id + "）";
      select.appendChild(option);
    });
    if (suggested && suggested.length) select.value = suggested[0];
  }

  function renderGroup(group) {
    var node = $("group-template").content.firstElementChild.cloneNode(true);
    node.dataset.groupId = String(group.id);
    node.querySelector(".group-label").textContent = group.label;
    node.querySelector(".group-size").textContent = group.size + " 条";
    node.querySelector(".group-kinds").textContent = Object.keys(group.kinds).map(function (kind) {
      return (KIND_LABELS[kind] || kind) + " " + group.kinds[kind];
    }).join("，");
    var list = node.querySelector(".group-questions");
    group.questions.forEach(function (question) {
      var item = document.createElement("li");
      item.textContent = question.text;
      list.appendChild(item);
    });
    var error = node.querySelector(".group-error");
    if (group.status !== "open") {
      node.querySelector(".group-actions").hidden = true;
      var resolution = node.querySelector(".group-resolution");
      resolution.hidden = false;
      resolution.textContent = (group.resolution === "faq" ? "已新增常见问题" : "已关联服务") +
        "：" + (group.service_id || "") + "，处理人 " + (group.resolved_by || "") +
        "，" + (group.resolved_at || "");
      return node;
    }
    node.querySelectorAll("select.service").forEach(function (select) {
      fillServices(select, group.suggested_services);
    });
    node.querySelector(".faq-question").value = group.label;
    function submit(path, body, button) {
      error.textContent = "";
      button.disabled = true;
      api("POST", BASE + "/groups/" + group.id + path, body).then(function (result) {
        showRebuild(result.rebuild);
        startPolling();
        loadGroups();
      }).catch(function (e) {
        error.textContent = e.message;
        button.disabled = false;
      });
    }
    node.querySelector(".link-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.currentTarget;
      submit("/link", { service_id: form.querySelector(".service").value }, form.querySelector("button"));
    });
    node.querySelector(".faq-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.currentTarget;
      submit("/faq", {
        service_id: form.querySelector(".service").value,
        question: form.querySelector(".faq-question").value,
        answer: form.querySelector(".faq-answer").value
      }, form.querySelector("button"));
    });
    return node;
  }

  function loadGroups() {
    $("review-error").textContent = "";
    return api("GET", BASE + "/groups?status=" + state.status).then(function (data) {
      var list = $("groups");
      list.textContent = "";
      data.groups.forEach(function (group) { list.appendChild(renderGroup(group)); });
      $("review-empty").hidden = data.groups.length > 0;
    }).catch(function (e) { $("review-error").textContent = e.message; });
  }

  var STAGES = { starting: "准备中", "loading model": "加载模型", embedding: "编码变更的文档",
    writing: "写入索引", done: "已完成" };

  function showRebuild(progress) {
    if (!progress || progress.status === "idle") return;
    $("rebuild").hidden = false;
    $("rebuild-bar").value = progress.percent;
    $("rebuild-percent").textContent = progress.percent + "%";
    var stage = STAGES[progress.stage] || progress.stage;
    if (progress.stage === "embedding" && progress.total) stage += "（" + progress.done + "/" + progress.total + "）";
    if (progress.status === "done" && progress.report && progress.report.embedded !== undefined) {
      stage = "已完成：重新编码 " + progress.report.embedded + " 个片段，沿用 " + progress.report.reused + " 个";
    }
    $("rebuild-stage").textContent = stage;
    $("rebuild-error").textContent = progress.error || "";
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = setInterval(function () {
      api("GET", BASE + "/rebuild").then(function (progress) {
        showRebuild(progress);
        if (progress.status !== "running" && !progress.queued) {
          clearInterval(state.polling); state.polling = null;
        }
      }).catch(function () { clearInterval(state.polling); state.polling = null; });
    }, 1000);
  }

  function selectTab(status) {
    state.status = status;
    $("tab-open").setAttribute("aria-pressed", String(status === "open"));
    $("tab-resolved").setAttribute("aria-pressed", String(status === "resolved"));
    loadGroups();
  }

  api("GET", "/api/session").then(function (session) {
    state.csrf = session.csrf_token;
    $("me").textContent = session.staff.display_name || session.staff.username;
    $("review-view").hidden = false;
    $("tab-open").addEventListener("click", function () { selectTab("open"); });
    $("tab-resolved").addEventListener("click", function () { selectTab("resolved"); });
    $("refresh").addEventListener("click", loadGroups);
    return api("GET", BASE + "/services").then(function (services) {
      state.services = services;
      return api("GET", BASE + "/rebuild");
    }).then(function (progress) {
      // A build started elsewhere (another staff member) is shown while it runs.
      if (progress.status === "running") { showRebuild(progress); startPolling(); }
      return loadGroups();
    });
  }).catch(function () { $("signed-out").hidden = false; });
})();
