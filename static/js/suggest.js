// Suggestions under the header search box (GET /api/suggest/?q=), as an ARIA
// combobox: arrow keys move through the list, Enter opens the chosen question,
// Escape closes the list, and a polite live region says how many there are.
// Without this script the box is a plain search form.
(function () {
  "use strict";

  function init() {
    var input = document.querySelector("input[data-suggest-url]");
    if (!input) return;
    var list = document.getElementById(input.dataset.suggestList);
    var status = document.getElementById(input.dataset.suggestStatus);
    if (!list || !status) return;

    var items = [];
    var active = -1;
    var timer = null;
    var sequence = 0;
    var lastQuery = null;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");

    function announce(count) {
      var text = count === 0 ? input.dataset.labelNone
        : count === 1 ? input.dataset.labelOne
        : input.dataset.labelMany.replace("%(count)s", String(count));
      status.textContent = text;
    }

    function setActive(index) {
      var options = list.children;
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = index;
      if (active >= 0 && options[active]) {
        options[active].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[active].id);
        options[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      setActive(-1);
    }

    function open() {
      if (!items.length) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function render(found) {
      items = found;
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.textContent = "";
      found.forEach(function (item, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.className = "suggest__option";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = item.title;
        if (item.kind === "tag") {
          var badge = document.createElement("span");
          badge.className = "suggest__kind";
          badge.textContent = input.dataset.labelTag;
          option.appendChild(badge);
        }
        // mousedown, not click: the input must not lose focus (and close the list) first.
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          go(i);
        });
        list.appendChild(option);
      });
      announce(found.length);
      if (found.length) open(); else close();
    }

    function go(index) {
      var item = items[index];
      if (item) window.location.assign(item.url);
    }

    function fetchSuggestions() {
      var query = input.value.trim();
      if (query === lastQuery) { open(); return; }
      lastQuery = query;
      if (!query) { render([]); status.textContent = ""; return; }
      var mine = ++sequence;
      fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(query), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) {
          // A slower answer to an older keystroke must not replace a newer one.
          if (mine === sequence) render(data.suggestions || []);
        })
        .catch(function () { if (mine === sequence) close(); });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchSuggestions, 120);
    });

    input.addEventListener("keydown", function (event) {
      var expanded = !list.hidden;
      if (event.key === "ArrowDown") {
        if (!items.length) return;
        event.preventDefault();
        if (!expanded) open();
        setActive(active + 1 >= items.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp") {
        if (!items.length) return;
        event.preventDefault();
        if (!expanded) open();
        setActive(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (expanded && active >= 0) {
          event.preventDefault();
          go(active);
        }
      } else if (event.key === "Escape") {
        if (expanded) {
          event.preventDefault();
          close();
        }
      }
    });

    input.addEventListener("blur", close);
    input.addEventListener("focus", function () { if (items.length && input.value.trim() === lastQuery) open(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
