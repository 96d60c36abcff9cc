// The light/dark toggle: remembers the reader's choice in localStorage ("opskb-theme");
// without a stored choice the page follows the system setting, also when it changes.
(function () {
  "use strict";
  var KEY = "opskb-theme";
  var root = document.documentElement;
  var button = document.querySelector(".theme-toggle");

  function stored() {
    try {
      return window.localStorage.getItem(KEY);
    } catch (error) {
      return null;
    }
  }

  function apply(mode) {
    root.setAttribute("data-theme", mode);
    if (button) {
      button.setAttribute("aria-pressed", mode === "dark" ? "true" : "false");
    }
  }

  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (media && media.addEventListener) {
    media.addEventListener("change", function (event) {
      if (stored() !== "light" && stored() !== "dark") {
        apply(event.matches ? "dark" : "light");
      }
    });
  }

  if (!button) {
    return;
  }
  apply(root.getAttribute("data-theme") === "dark" ? "dark" : "light");
  button.hidden = false;
  button.addEventListener("click", function () {
    var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
    apply(next);
    try {
      window.localStorage.setItem(KEY, next);
    } catch (error) {
      // storage disabled: the choice lasts for this page only
    }
  });
})();
