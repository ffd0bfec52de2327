// Zhiku front-end behaviour. Loaded without `defer` from <head> so the saved
// theme is applied before the first paint (no flash of the wrong theme); the
// strict CSP forbids inline scripts, so this file is the earliest place to do it.
(function () {
  "use strict";

  var STORAGE_KEY = "zhiku-theme";
  var root = document.documentElement;

  function savedTheme() {
    try {
      var value = window.localStorage.getItem(STORAGE_KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (e) {
      // Storage can be disabled (privacy mode); the system preference still applies.
      return null;
    }
  }

  function systemTheme() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function currentTheme() {
    return root.getAttribute("data-theme") || systemTheme();
  }

  var initial = savedTheme();
  if (initial) {
    root.setAttribute("data-theme", initial);
  }

  // Strings for script-made controls come from data-* attributes on <body>,
  // rendered by the template in the visitor's language.
  function label(name, fallback) {
    return (document.body && document.body.getAttribute("data-label-" + name)) || fallback;
  }

  function setUpThemeToggle() {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) {
      return;
    }
    function sync() {
      button.setAttribute("aria-pressed", currentTheme() === "dark" ? "true" : "false");
    }
    button.hidden = false;
    sync();
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try {
        window.localStorage.setItem(STORAGE_KEY, next);
      } catch (e) {
        // Not persisted; the choice still holds for this page.
      }
      sync();
    });
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) {
        query.addEventListener("change", sync);
      }
    }
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP pages have no Clipboard API: fall back to a hidden textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      document.body.removeChild(area);
      if (ok) {
        resolve();
      } else {
        reject(new Error("copy failed"));
      }
    });
  }

  function setUpCopyButtons() {
    var blocks = document.querySelectorAll(".prose .highlight");
    Array.prototype.forEach.call(blocks, function (block) {
      var pre = block.querySelector("pre");
      if (!pre || block.querySelector(".copy-button")) {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      var idle = label("copy", "Copy code");
      button.textContent = idle;
      var language = block.querySelector(".filename");
      if (language && language.textContent.trim()) {
        button.setAttribute("aria-label", idle + " (" + language.textContent.trim() + ")");
      }
      var status = document.createElement("span");
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      block.classList.add("has-copy");
      block.insertBefore(button, block.firstChild);
      block.appendChild(status);
      button.addEventListener("click", function () {
        var code = pre.querySelector("code") || pre;
        copyText(code.innerText.replace(/\n$/, "")).then(
          function () {
            button.textContent = label("copied", "Copied");
            status.textContent = label("copied", "Copied");
            button.classList.add("is-done");
          },
          function () {
            button.textContent = label("copy-failed", "Copy failed");
            status.textContent = label("copy-failed", "Copy failed");
          }
        );
        window.setTimeout(function () {
          button.textContent = idle;
          button.classList.remove("is-done");
          status.textContent = "";
        }, 2000);
      });
    });
  }

  // Code and tables scroll sideways on narrow screens; a tab stop lets
  // keyboard users scroll them too (WCAG 2.1.1).
  function makeScrollersFocusable() {
    var boxes = document.querySelectorAll("main pre, .prose table");
    Array.prototype.forEach.call(boxes, function (box) {
      if (!box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
      }
    });
  }

  function ready() {
    makeScrollersFocusable();
    setUpThemeToggle();
    setUpCopyButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
