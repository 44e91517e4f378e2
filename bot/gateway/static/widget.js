/* 智询 chat widget: talks socket.io to the gateway (events session_request / user_uttered /
   bot_uttered, as Rasa's own socket.io channel does). Voice: 点击说话 records with
   MediaRecorder and POSTs to /api/asr; the text lands in the input box for the citizen to check
   before sending. Read-aloud: the browser's zh-CN voice if the device has one, else /api/tts. */
(function () {
  "use strict";
  // The server issues the conversation id and signs it; the widget keeps the signed token.
  var TOKEN_KEY = "zhixun.session_token";
  var ELDER_KEY = "zhixun.elder_mode";
  var READ_KEY = "zhixun.read_aloud";
  var MAX_RECORD_MS = 55000; // the server takes 60 s; stop a little before
  var MIN_RECORD_MS = 600;

  localStorage.removeItem("zhixun.session_id"); // ids the browser chose (before issue 8)
  var confirmedId = "";
  function sessionToken() { return localStorage.getItem(TOKEN_KEY) || ""; }
  // The conversation id (for /api/asr and /api/tts): the confirmed one, else the token's.
  function sessionId() { return confirmedId || sessionToken().split(".")[0]; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var launcher = el("button", { id: "zx-launcher", type: "button", "aria-controls": "zx-panel", "aria-expanded": "false" }, "智能咨询");
  var panel = el("div", { id: "zx-panel", role: "dialog", "aria-label": "智询 智能咨询" });
  var head = el("div", { "class": "zx-head" });
  head.appendChild(el("strong", {}, "智询 · 政务智能咨询"));
  var elderButton = el("button", { type: "button", id: "zx-elder-toggle", title: "大字号、高对比度、自动朗读" }, "长辈模式");
  var readButton = el("button", { type: "button", id: "zx-read-toggle", "aria-pressed": "false", title: "自动朗读机器人的回答" }, "自动朗读");
  var newButton = el("button", { type: "button", id: "zx-new", "class": "zx-new", "aria-label": "新对话：结束当前对话，重新开始", title: "在公用电脑上用完请点这里，下一位看不到您的对话" }, "新对话");
  var closeButton = el("button", { type: "button", "aria-label": "关闭", "class": "zx-close" }, "×");
  head.appendChild(newButton); head.appendChild(elderButton); head.appendChild(readButton); head.appendChild(closeButton);
  var log = el("div", { "class": "zx-log", "aria-live": "polite" });
  var status = el("p", { "class": "zx-status", role: "status", "aria-live": "assertive" });
  var form = el("form", { "class": "zx-form" });
  var input = el("textarea", { "aria-label": "输入您的问题", placeholder: "请输入您的问题，如：居住证怎么办理", maxlength: "2000" });
  var mic = el("button", { type: "button", "class": "zx-mic", id: "zx-mic", "aria-pressed": "false" }, "点击说话");
  var send = el("button", { type: "submit", "class": "zx-send" }, "发送");
  form.appendChild(mic); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(status); panel.appendChild(form);
  document.body.appendChild(launcher); document.body.appendChild(panel);

  function scroll() { log.scrollTop = log.scrollHeight; }
  function setStatus(text, kind) {
    status.textContent = text || "";
    status.className = "zx-status" + (kind ? " zx-status-" + kind : "");
  }

  /* ---- read-aloud ------------------------------------------------------------------------ */
  var audio = null;
  function chineseVoice() {
    if (!window.speechSynthesis || !window.speechSynthesis.getVoices) return null;
    var voices = window.speechSynthesis.getVoices();
    for (var i = 0; i < voices.length; i++) { if (/^zh([-_]CN|$)/i.test(voices[i].lang)) return voices[i]; }
    for (var j = 0; j < voices.length; j++) { if (/^(zh|cmn)/i.test(voices[j].lang)) return voices[j]; }
    return null;
  }
  if (window.speechSynthesis && window.speechSynthesis.getVoices) window.speechSynthesis.getVoices();

  function stopSpeaking() {
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    if (audio) { audio.pause(); audio = null; }
  }

  function speakNow(text) {
    if (!text) return;
    stopSpeaking();
    var voice = chineseVoice();
    if (voice) {
      var utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = voice.lang; utterance.voice = voice; utterance.rate = panel.classList.contains("zx-elder") ? 0.85 : 1;
      window.speechSynthesis.speak(utterance);
      return;
    }
    audio = new Audio("/api/tts?text=" + encodeURIComponent(text.slice(0, 2000)) + "&session=" + encodeURIComponent(sessionId()));
    audio.setAttribute("data-zx-tts", "1");
    panel.setAttribute("data-zx-tts-src", audio.src);
    var playing = audio.play();
    if (playing && playing.catch) playing.catch(function () { setStatus("朗读暂时不可用。", "error"); });
  }

  function autoRead(text) { if (readButton.getAttribute("aria-pressed") === "true") speakNow(text); }

  /* ---- messages -------------------------------------------------------------------------- */
  function addMessage(text, who) {
    var bubble = el("div", { "class": "zx-msg zx-" + who });
    bubble.appendChild(el("span", { "class": "zx-text" }, text));
    if (who === "bot" || who === "staff" || who === "handoff") {
      var again = el("button", { type: "button", "class": "zx-speak", "aria-label": "朗读这条回答" }, "▶ 朗读");
      again.addEventListener("click", function () { speakNow(text); });
      bubble.appendChild(again);
    }
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

  /* ---- messages missed while away ------------------------------------------------------- */
  // The server numbers what it says (ids only grow, across conversations). Each (re)connect
  // asks for what came after the last id shown here; an id that comes twice is dropped.
  var SEEN_KEY = "zhixun.last_seen_id";
  var lastSeenId = Number(localStorage.getItem(SEEN_KEY)) || 0;
  var shownIds = {};
  function firstSight(message) {
    if (typeof message.id !== "number") return true; // not kept by the server: shown as it comes
    if (shownIds[message.id]) return false;
    shownIds[message.id] = true;
    if (message.id > lastSeenId) { lastSeenId = message.id; localStorage.setItem(SEEN_KEY, String(lastSeenId)); }
    return true;
  }

  var socket = io({ path: "/socket.io", transports: ["websocket", "polling"] });
  socket.on("connect", function () { socket.emit("session_request", { token: sessionToken(), last_id: lastSeenId }); });
  socket.on("session_confirm", function (confirm) {
    if (!confirm || !confirm.token) return;
    confirmedId = confirm.session_id || "";
    localStorage.setItem(TOKEN_KEY, confirm.token);
    panel.setAttribute("data-zx-session", confirmedId);
  });
  socket.on("bot_uttered", function (message) {
    if (!firstSight(message)) return;
    // During a handoff: staff messages carry custom.handoff.from = "staff", status notices
    // (joined, transferred, closed) carry custom.handoff.event.
    var handoff = message.custom && message.custom.handoff;
    if (handoff && handoff.from === "staff" && message.text) {
      var bubble = addMessage(message.text, "staff");
      bubble.insertBefore(el("span", { "class": "zx-who" }, "工作人员" + (handoff.name ? " " + handoff.name : "")), bubble.firstChild);
      autoRead(message.text);
    } else if (handoff && handoff.event && message.text) { addMessage(message.text, "handoff"); autoRead(message.text); }
    else if (message.text) { addMessage(message.text, "bot"); autoRead(message.text); }
    if (message.buttons && message.buttons.length) addButtons(message.buttons);
  });
  socket.on("error_message", function (message) { addMessage(message.text, "notice"); });
  // The server could not take a message in (a fault on its side) and kept nothing of it: the
  // text goes back into the empty input box, and 重发 sends it again.
  socket.on("send_failed", function (failed) {
    var notice = addMessage(failed.text, "notice");
    notice.className += " zx-failed";
    if (!failed.message) return;
    if (!input.value) input.value = failed.message;
    var again = el("button", { type: "button", "class": "zx-resend" }, "重发");
    again.addEventListener("click", function () {
      again.disabled = true;
      if (input.value === failed.message) input.value = "";
      submit(failed.message);
    });
    notice.appendChild(again); scroll();
  });
  socket.on("disconnect", function () { addMessage("连接已断开，正在重新连接…", "notice"); });

  // How the citizen talks, for the 好差评 record: 长辈模式 on, the text came from the microphone.
  var spoken = false;
  function submit(payload, shown) {
    var text = (payload || "").trim();
    if (!text) return;
    addMessage(shown || text, "user");
    setStatus("");
    socket.emit("user_uttered", { message: text, elder: panel.classList.contains("zx-elder"), voice: spoken });
    spoken = false;
  }

  // 新对话: a fresh server-issued conversation, the log cleared, so the next person at a shared
  // device neither sees this one nor inherits its open handoff.
  newButton.addEventListener("click", function () {
    stopSpeaking();
    localStorage.removeItem(TOKEN_KEY);
    confirmedId = "";
    log.textContent = ""; input.value = ""; setStatus("");
    // Disconnected: the reconnect asks without a token, which is a new conversation too.
    if (socket.connected) socket.emit("new_conversation", {});
    addMessage("已开始新对话，之前的对话记录已清除。", "notice");
    input.focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit(input.value); input.value = ""; input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
  });

  /* ---- voice input ----------------------------------------------------------------------- */
  var recorder = null, chunks = [], startedAt = 0, stopTimer = null, busy = false;
  var canRecord = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  if (!canRecord) mic.hidden = true;

  function micState(state) {
    mic.setAttribute("data-state", state);
    mic.setAttribute("aria-pressed", state === "recording" ? "true" : "false");
    mic.textContent = state === "recording" ? "说完了" : state === "recognizing" ? "识别中…" : "点击说话";
    mic.disabled = state === "recognizing";
  }
  micState("idle");

  function pickMime() {
    var kinds = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
    for (var i = 0; i < kinds.length; i++) { if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(kinds[i])) return kinds[i]; }
    return "";
  }

  function startRecording() {
    stopSpeaking();
    // Raw audio: the recogniser copes with room noise; the browser's call-oriented processing
    // (gain ramp, noise gate) clips the first syllable, and that is often the service's name.
    var constraints = { audio: { echoCancellation: false, autoGainControl: false, noiseSuppression: false, channelCount: 1 } };
    navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      var mime = pickMime();
      recorder = mime ? new MediaRecorder(stream, { mimeType: mime }) : new MediaRecorder(stream);
      chunks = [];
      recorder.ondataavailable = function (event) { if (event.data && event.data.size) chunks.push(event.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        var blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        var tooShort = Date.now() - startedAt < MIN_RECORD_MS;
        recorder = null;
        if (tooShort || !blob.size) { micState("idle"); setStatus("没听清，请再说一遍（点一下开始，说完再点一下）。", "warn"); return; }
        recognize(blob);
      };
      recorder.start();
      startedAt = Date.now();
      micState("recording");
      setStatus("正在听，请说话……说完请再点一下「说完了」。", "recording");
      stopTimer = setTimeout(stopRecording, MAX_RECORD_MS);
    }).catch(function () {
      micState("idle");
      setStatus("无法使用麦克风：请在浏览器里允许使用麦克风，或者直接打字。", "error");
    });
  }

  function stopRecording() {
    if (stopTimer) { clearTimeout(stopTimer); stopTimer = null; }
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }

  function recognize(blob) {
    if (busy) return;
    busy = true;
    micState("recognizing");
    setStatus("正在识别，请稍候……", "busy");
    var body = new FormData();
    body.append("audio", blob, "speech." + (/mp4/.test(blob.type) ? "m4a" : /ogg/.test(blob.type) ? "ogg" : "webm"));
    fetch("/api/asr", { method: "POST", body: body, headers: { "X-Zhixun-Session": sessionId() }, credentials: "same-origin" })
      .then(function (response) { return response.json().then(function (data) { return { ok: response.ok, data: data }; }); })
      .then(function (result) {
        if (!result.ok) { setStatus(result.data.detail || "语音识别失败，请再试一次，或直接打字。", "error"); return; }
        if (!result.data.heard || !result.data.text) { setStatus(result.data.message || "没听清，请再说一遍", "warn"); return; }
        input.value = result.data.text;
        spoken = true;
        input.focus();
        setStatus("听到的是上面这句话。没问题请点「发送」，也可以先改一改。", "ok");
      })
      .catch(function () { setStatus("网络不太好，语音没有送到，请再试一次。", "error"); })
      .then(function () { busy = false; micState("idle"); });
  }

  mic.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") stopRecording();
    else if (!busy) startRecording();
  });

  /* ---- modes ----------------------------------------------------------------------------- */
  function setElder(on) {
    localStorage.setItem(ELDER_KEY, on ? "1" : "0");
    panel.classList.toggle("zx-elder", on);
    document.documentElement.classList.toggle("zx-elder-page", on);
    // The label says what a press does: a visible way back out of the mode.
    elderButton.textContent = on ? "退出长辈模式" : "长辈模式";
  }
  function setRead(on, remember) {
    readButton.setAttribute("aria-pressed", on ? "true" : "false");
    if (remember) localStorage.setItem(READ_KEY, on ? "1" : "0");
    if (!on) stopSpeaking();
  }
  elderButton.addEventListener("click", function () {
    var on = !panel.classList.contains("zx-elder");
    setElder(on);
    // Entering the mode turns reading aloud on unless the citizen has said otherwise before.
    if (on && localStorage.getItem(READ_KEY) === null) setRead(true, true);
  });
  readButton.addEventListener("click", function () { setRead(readButton.getAttribute("aria-pressed") !== "true", true); });
  setElder(localStorage.getItem(ELDER_KEY) === "1");
  setRead(localStorage.getItem(READ_KEY) === "1", false);

  function open(on) { panel.classList.toggle("open", on); launcher.setAttribute("aria-expanded", on ? "true" : "false"); if (on) input.focus(); }
  launcher.addEventListener("click", function () { open(!panel.classList.contains("open")); });
  closeButton.addEventListener("click", function () { open(false); launcher.focus(); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { open(false); launcher.focus(); } });
})();
