// Runs in <head> before first paint: apply the stored colour mode, else the system's.
// Sets <html data-theme="light|dark">; theme.js wires the toggle button later.
(function () {
  "use strict";
  var stored = null;
  try {
    stored = window.localStorage.getItem("opskb-theme");
  } catch (error) {
    stored = null; // storage disabled: follow the system setting
  }
  var system = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var mode = stored === "light" || stored === "dark" ? stored : system ? "dark" : "light";
  document.documentElement.setAttribute("data-theme", mode);
})();
