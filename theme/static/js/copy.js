// Copy buttons: every element with data-copy gets a real <button> that copies the
// attribute's text verbatim (computed at build time: prompts and output removed).
// Success is shown on the button and announced through the page's live region.
(function () {
  "use strict";
  var RESET_MS = 2000;

  function announce(message) {
    var status = document.getElementById("live-status");
    if (status) {
      status.textContent = "";
      // A fresh text node makes screen readers announce a repeated message again.
      window.setTimeout(function () {
        status.textContent = message;
      }, 50);
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-scratch";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function describe(element) {
    var lang = element.getAttribute("data-lang");
    return lang ? "Copy " + lang + " command" : "Copy command";
  }

  function addButton(element) {
    var button = document.createElement("button");
    var label = describe(element);
    var timer = null;
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", label);
    button.addEventListener("click", function () {
      copyText(element.getAttribute("data-copy")).then(
        function () {
          button.textContent = "Copied";
          button.setAttribute("aria-label", "Copied");
          button.classList.add("is-copied");
          announce("Copied to the clipboard");
        },
        function () {
          button.textContent = "Copy failed";
          button.setAttribute("aria-label", "Copy failed");
          announce("Could not copy; select the text and copy it by hand");
        }
      );
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        button.textContent = "Copy";
        button.setAttribute("aria-label", label);
        button.classList.remove("is-copied");
      }, RESET_MS);
    });
    if (element.tagName === "PRE") {
      // A bare <pre> (inside a tool block): wrap it so the button can sit in its corner.
      var wrap = document.createElement("div");
      wrap.className = "copy-wrap";
      element.parentNode.insertBefore(wrap, element);
      wrap.appendChild(element);
      wrap.appendChild(button);
    } else {
      // After the badge (not inside it: the caption names the figure), else first.
      var caption = element.querySelector(":scope > figcaption");
      element.insertBefore(button, caption ? caption.nextSibling : element.firstChild);
    }
    element.classList.add("has-copy");
  }

  function init() {
    var elements = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < elements.length; i += 1) {
      addButton(elements[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
