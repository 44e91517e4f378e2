/* 大字模式 for staff: larger type, larger controls, higher contrast; remembered on this device. */
(function () {
  "use strict";
  var KEY = "zhixun.console.large_type";
  var button = document.getElementById("large-type");
  function apply(on) {
    document.documentElement.classList.toggle("large-type", on);
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  }
  apply(localStorage.getItem(KEY) === "1");
  if (button) {
    button.addEventListener("click", function () {
      var on = !document.documentElement.classList.contains("large-type");
      localStorage.setItem(KEY, on ? "1" : "0");
      apply(on);
    });
  }
})();
