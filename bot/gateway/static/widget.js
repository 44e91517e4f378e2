/* 智询 chat widget: talks socket.io to the gateway (events session_request / user_uttered /
   bot_uttered, as Rasa's own socket.io channel does). */
(function () {
  "use strict";
  var STORAGE_KEY = "zhixun.session_id";
  var ELDER_KEY = "zhixun.elder_mode";
  var READ_KEY = "zhixun.read_aloud";

  function sessionId() {
    var id = localStorage.getItem(STORAGE_KEY);
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2)).replace(/[^A-Za-z0-9_-]/g, "");
      localStorage.setItem(STORAGE_KEY, id);
    }
    return id;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var launcher = el("button", { id: "zx-launcher", type: "button", "aria-controls": "zx-panel" }, "智能咨询");
  var panel = el("div", { id: "zx-panel", role: "dialog", "aria-label": "智询 智能咨询" });
  var head = el("div", { "class": "zx-head" });
  head.appendChild(el("strong", {}, "智询 · 政务智能咨询"));
  var elderButton = el("button", { type: "button", "aria-pressed": "false", title: "大字号、高对比度" }, "长辈模式");
  var readButton = el("button", { type: "button", "aria-pressed": "false", title: "朗读机器人的回答" }, "朗读");
  var closeButton = el("button", { type: "button", "aria-label": "关闭" }, "×");
  head.appendChild(elderButton); head.appendChild(readButton); head.appendChild(closeButton);
  var log = el("div", { "class": "zx-log", "aria-live": "polite" });
  var form = el("form", { "class": "zx-form" });
  var input = el("textarea", { "aria-label": "输入您的问题", placeholder: "请输入您的问题，如：居住证怎么办理", maxlength: "2000" });
  var send = el("button", { type: "submit" }, "发送");
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(form);
  document.body.appendChild(launcher); document.body.appendChild(panel);

  function scroll() { log.scrollTop = log.scrollHeight; }

  function speak(text) {
    if (readButton.getAttribute("aria-pressed") !== "true" || !window.speechSynthesis || !text) return;
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "zh-CN";
    window.speechSynthesis.speak(utterance);
  }

  function addMessage(text, who) {
    var bubble = el("div", { "class": "zx-msg zx-" + who }, text);
    log.appendChild(bubble); scroll();
    return bubble;
  }

  function addButtons(buttons) {
    var row = el("div", { "class": "zx-buttons" });
    buttons.forEach(function (b) {
      var button = el("button", { type: "button" }, b.title);
      button.addEventListener("click", function () { submit(b.payload, b.title); });
      row.appendChild(button);
    });
    log.appendChild(row); scroll();
  }

  var socket = io({ path: "/socket.io", transports: ["websocket", "polling"] });
  socket.on("connect", function () { socket.emit("session_request", { session_id: sessionId() }); });
  socket.on("bot_uttered", function (message) {
    // During a handoff: staff messages carry custom.handoff.from = "staff", status notices
    // (joined, transferred, closed) carry custom.handoff.event.
    var handoff = message.custom && message.custom.handoff;
    if (handoff && handoff.from === "staff" && message.text) {
      var bubble = addMessage(message.text, "staff");
      bubble.insertBefore(el("span", { "class": "zx-who" }, "工作人员" + (handoff.name ? " " + handoff.name : "")), bubble.firstChild);
      speak(message.text);
    } else if (handoff && handoff.event && message.text) { addMessage(message.text, "handoff"); speak(message.text); }
    else if (message.text) { addMessage(message.text, "bot"); speak(message.text); }
    if (message.buttons && message.buttons.length) addButtons(message.buttons);
  });
  socket.on("error_message", function (message) { addMessage(message.text, "notice"); });
  socket.on("disconnect", function () { addMessage("连接已断开，正在重新连接…", "notice"); });

  function submit(payload, shown) {
    var text = (payload || "").trim();
    if (!text) return;
    addMessage(shown || text, "user");
    socket.emit("user_uttered", { message: text, session_id: sessionId() });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit(input.value); input.value = ""; input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
  });

  function setToggle(button, key, on, className) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    localStorage.setItem(key, on ? "1" : "0");
    if (className) panel.classList.toggle(className, on);
  }
  elderButton.addEventListener("click", function () { setToggle(elderButton, ELDER_KEY, elderButton.getAttribute("aria-pressed") !== "true", "zx-elder"); });
  readButton.addEventListener("click", function () {
    var on = readButton.getAttribute("aria-pressed") !== "true";
    setToggle(readButton, READ_KEY, on);
    if (!on && window.speechSynthesis) window.speechSynthesis.cancel();
  });
  setToggle(elderButton, ELDER_KEY, localStorage.getItem(ELDER_KEY) === "1", "zx-elder");
  setToggle(readButton, READ_KEY, localStorage.getItem(READ_KEY) === "1");

  function open(on) { panel.classList.toggle("open", on); launcher.setAttribute("aria-expanded", on ? "true" : "false"); if (on) input.focus(); }
  launcher.addEventListener("click", function () { open(!panel.classList.contains("open")); });
  closeButton.addEventListener("click", function () { open(false); });
})();
