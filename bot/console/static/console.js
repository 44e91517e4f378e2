/* 智询 staff console: sign-in, live queue (server-sent events), one ticket at a time.
   Everything goes through the staff API; data is only ever inserted as text. */
(function () {
  "use strict";
  var STATE_LABELS = { waiting: "排队中", claimed: "处理中", closed: "已结束", callback: "待回电" };
  var SENDER_LABELS = { citizen: "群众", bot: "智询", staff: "工作人员", system: "系统" };
  var state = { csrf: null, me: null, config: null, tickets: [], selected: null, ticket: null, stream: null, reveal: false, lastMessage: 0, pendingReplies: {} };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  // A v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not.
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function minutesSince(iso) { return Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000)); }
  function clock(iso) { var d = new Date(iso); return d.toLocaleString("zh-CN", { hour12: false }); }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    return fetch(path, { method: method, headers: headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (response) {
        if (response.status === 204) return null;
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 401) { showLogin(); }
          if (!response.ok) { var error = new Error(data.detail || ("请求失败（" + response.status + "）")); error.status = response.status; throw error; }
          return data;
        });
      });
  }

  // ---- sign-in ------------------------------------------------------------------------------
  function showLogin() {
    closeStream();
    $("desk-view").hidden = true; $("login-view").hidden = false; $("logout").hidden = true; $("me").textContent = "";
    $("username").focus();
  }
  function showDesk(session) {
    state.csrf = session.csrf_token; state.me = session.staff;
    $("me").textContent = session.staff.display_name + (session.staff.department ? "（" + session.staff.department + "）" : "");
    $("login-view").hidden = true; $("desk-view").hidden = false; $("logout").hidden = false;
    // Unmasking is for admins; the server refuses it to everyone else anyway.
    $("reveal-label").hidden = session.staff.role !== "admin";
    api("GET", "/api/console/config").then(function (config) {
      state.config = config;
      var canned = $("canned"); canned.length = 1;
      config.canned_replies.forEach(function (reply) { var o = el("option", null, reply.title); o.value = reply.text; canned.appendChild(o); });
      var filter = $("department-filter"); filter.length = 1;
      var transfer = $("transfer-department"); transfer.length = 0;
      config.departments.forEach(function (name) {
        var a = el("option", null, name); a.value = name; filter.appendChild(a);
        var b = el("option", null, name); b.value = name; transfer.appendChild(b);
      });
    });
    openStream();
  }
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/api/session", { username: $("username").value.trim(), password: $("password").value })
      .then(function (session) {
        $("password").value = "";
        // The session cookie is Secure off loopback: over plain HTTP the browser drops it.
        return api("GET", "/api/session").then(showDesk, function () {
          $("login-error").textContent = "浏览器没有保存登录状态：请通过 HTTPS 地址访问控制台，或联系管理员。";
        });
      })
      .catch(function (error) { $("login-error").textContent = error.message; });
  });
  $("logout").addEventListener("click", function () {
    api("DELETE", "/api/session").finally(function () { state.csrf = null; showLogin(); });
  });

  // ---- live updates -------------------------------------------------------------------------
  function closeStream() { if (state.stream) { state.stream.close(); state.stream = null; } $("live").classList.remove("on"); }
  function openStream() {
    closeStream();
    var url = "/api/handoffs/stream";
    if (state.selected) url += "?ticket=" + state.selected + "&after=" + state.lastMessage;
    var source = new EventSource(url);
    state.stream = source;
    source.onopen = function () { $("live").classList.add("on"); $("live").title = "实时更新中"; };
    source.onerror = function () { $("live").classList.remove("on"); $("live").title = "连接中断，正在重连…"; };
    source.addEventListener("queue", function (event) { state.tickets = JSON.parse(event.data).tickets; renderQueue(); });
    source.addEventListener("ticket", function (event) {
      var ticket = JSON.parse(event.data);
      if (ticket.id === state.selected && !state.reveal) { ticket.messages = []; renderTicket(ticket, false); }
    });
    source.addEventListener("messages", function (event) {
      // New lines arrive masked even in the revealed view; revealing again is a new, audited view.
      JSON.parse(event.data).messages.forEach(appendMessage);
    });
    source.addEventListener("logout", function () { showLogin(); });
  }

  // ---- the queue ----------------------------------------------------------------------------
  function renderQueue() {
    var department = $("department-filter").value;
    ["waiting", "claimed", "callback"].forEach(function (name) {
      var list = $("queue-" + name); list.textContent = "";
      var shown = state.tickets.filter(function (t) { return t.state === name && (!department || t.department === department); });
      $("count-" + name).textContent = String(shown.length);
      shown.forEach(function (t) {
        var item = el("li", t.agitated ? "agitated" : "");
        item.dataset.ticketId = String(t.id);
        if (t.id === state.selected) item.classList.add("selected");
        var line1 = el("div", "line1");
        line1.appendChild(el("span", null, "#" + t.id));
        line1.appendChild(el("span", null, t.reason_label));
        if (name === "waiting") line1.appendChild(el("span", "muted", "已等" + minutesSince(t.queued_at) + "分钟"));
        if (name === "claimed" && t.claimed_by) line1.appendChild(el("span", "muted", t.claimed_by.id === state.me.id ? "我处理中" : t.claimed_by.name));
        item.appendChild(line1);
        item.appendChild(el("div", "line2", (t.department ? "【" + t.department + "】" : "") + (t.summary || "").split("\n")[0]));
        item.addEventListener("click", function () { select(t.id); });
        list.appendChild(item);
      });
    });
  }
  $("department-filter").addEventListener("change", renderQueue);

  // ---- one ticket ---------------------------------------------------------------------------
  function select(id) {
    state.selected = id; state.reveal = false; $("reveal").checked = false; state.lastMessage = 0;
    $("ticket-error").textContent = "";
    load().then(openStream);
    renderQueue();
  }
  function load() {
    return api("GET", "/api/handoffs/" + state.selected + (state.reveal ? "?reveal=true" : ""))
      .then(function (ticket) { renderTicket(ticket, true); })
      .catch(function (error) { $("ticket-error").textContent = error.message; });
  }
  function fact(list, name, value) { if (value === null || value === undefined || value === "") return; list.appendChild(el("dt", null, name)); list.appendChild(el("dd", null, value)); }
  function renderTicket(ticket, withTranscript) {
    state.ticket = ticket;
    $("ticket-empty").hidden = true; $("ticket").hidden = false;
    $("ticket-title").textContent = "工单 #" + ticket.id;
    $("ticket-state").textContent = STATE_LABELS[ticket.state] || ticket.state;
    $("ticket-flag").hidden = !ticket.agitated;
    var facts = $("ticket-facts"); facts.textContent = "";
    fact(facts, "原因", ticket.reason_label);
    fact(facts, "渠道", ticket.channel + " · " + ticket.conversation_id);
    fact(facts, "事项", ticket.service_title);
    fact(facts, "部门", ticket.department);
    fact(facts, "排队", ticket.position ? "第" + ticket.position + "位，预计" + ticket.expected_minutes + "分钟" : null);
    fact(facts, "创建", clock(ticket.created_at));
    fact(facts, "认领", ticket.claimed_by ? ticket.claimed_by.name + " · " + clock(ticket.claimed_at) : null);
    fact(facts, "回电", ticket.callback_phone ? ticket.callback_phone + (ticket.callback_due_at ? "（" + clock(ticket.callback_due_at) + "前）" : "") : null);
    fact(facts, "留言", ticket.callback_message);
    fact(facts, "处理结果", ticket.resolution);
    fact(facts, "评分", ticket.rating ? ticket.rating + "分" : null);
    $("ticket-summary").textContent = ticket.summary || "";
    var mine = ticket.state === "claimed" && ticket.claimed_by && ticket.claimed_by.id === state.me.id;
    $("claim").disabled = ticket.state !== "waiting";
    $("transfer").disabled = !(ticket.state === "waiting" || mine);
    $("reply-send").disabled = !mine; $("reply-text").disabled = !mine; $("canned").disabled = !mine;
    $("close-ticket").disabled = !(mine || ticket.state === "waiting" || ticket.state === "callback");
    if (withTranscript) { $("transcript").textContent = ""; state.lastMessage = 0; ticket.messages.forEach(appendMessage); }
  }
  function appendMessage(message) {
    if (message.id <= state.lastMessage) return;
    state.lastMessage = message.id;
    var item = el("li", "msg " + message.sender + (message.history ? " history" : ""));
    item.dataset.messageId = String(message.id);
    item.appendChild(el("span", "who", (message.sender_name || SENDER_LABELS[message.sender] || message.sender) + " · " + clock(message.at) + (message.history ? " · 转人工前" : "")));
    item.appendChild(document.createTextNode(message.text));
    var list = $("transcript"); list.appendChild(item); list.scrollTop = list.scrollHeight;
  }
  function act(promise) {
    $("ticket-error").textContent = "";
    return promise.then(function (ticket) { if (ticket && ticket.id) renderTicket(ticket, true); return ticket; })
      .catch(function (error) { $("ticket-error").textContent = error.message; if (error.status === 409) load(); });
  }
  $("claim").addEventListener("click", function () { act(api("POST", "/api/handoffs/" + state.selected + "/claim")); });
  $("transfer").addEventListener("click", function () {
    act(api("POST", "/api/handoffs/" + state.selected + "/transfer", { department: $("transfer-department").value, note: $("transfer-note").value }))
      .then(function () { $("transfer-note").value = ""; });
  });
  $("reveal").addEventListener("change", function () {
    state.reveal = $("reveal").checked; load();
  });
  $("canned").addEventListener("change", function () {
    if ($("canned").value) { $("reply-text").value = $("canned").value; $("canned").value = ""; $("reply-text").focus(); }
  });
  // Each reply carries an id made here: resending after an error (or a lost answer) reuses it,
  // so the citizen never gets the same reply twice.
  function sendReply(reply, attempt) {
    return api("POST", "/api/handoffs/" + reply.ticket + "/messages", { text: reply.text, client_id: reply.id })
      .catch(function (error) {
        var transient = !error.status || error.status >= 500;
        if (transient && attempt < 3) {
          return new Promise(function (resolve) { setTimeout(resolve, 1000 * attempt); })
            .then(function () { return sendReply(reply, attempt + 1); });
        }
        throw error;
      });
  }
  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("reply-text").value.trim();
    if (!text) return;
    $("ticket-error").textContent = "";
    // Until it is confirmed, the same text on the same ticket is the same reply.
    var key = state.selected + "\n" + text;
    var pending = state.pendingReplies[key];
    if (!pending) pending = state.pendingReplies[key] = { ticket: state.selected, text: text, id: newId() };
    sendReply(pending, 1)
      .then(function (result) {
        delete state.pendingReplies[key];
        if ($("reply-text").value.trim() === text) $("reply-text").value = "";
        $("reply-text").focus();
        if (result && result.delivered === false) $("ticket-error").textContent = "回复已保存，但暂未送达群众：" + (result.delivery_problem || "渠道暂时不可用");
      })
      .catch(function (error) {
        var transient = !error.status || error.status >= 500;
        $("ticket-error").textContent = transient ? "回复可能未发出：" + error.message + "。可再次点击发送，群众不会收到重复消息。" : error.message;
      });
  });
  $("reply-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("reply-form").requestSubmit(); }
  });
  $("close-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var resolution = $("close-resolution").value.trim();
    if (!resolution) { $("ticket-error").textContent = "请填写处理结果再结束服务"; return; }
    act(api("POST", "/api/handoffs/" + state.selected + "/close", { resolution: resolution }))
      .then(function () { $("close-resolution").value = ""; });
  });

  api("GET", "/api/session").then(showDesk).catch(function () { showLogin(); });
})();
