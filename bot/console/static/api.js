// The staff API from the console's pages (差评回访, 待解答问题): JSON in and out, the CSRF token
// on every change, and an Error carrying the server's detail and the HTTP status on failure.
(function () {
  "use strict";
  window.zhixunApi = function (method, path, body, csrf) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var detail = typeof data.detail === "string" ? data.detail : "请求失败（" + response.status + "）";
          var error = new Error(detail); error.status = response.status; throw error;
        }
        return data;
      });
    });
  };
})();
