// Live Markdown preview in the admin, beside every textarea that carries
// data-markdown-preview (set by qa.admin.MarkdownPreviewMixin). The server
// renders and sanitises, so the preview is exactly what the site will show.
"use strict";

(function () {
  const DELAY_MS = 350;

  function csrfToken(form) {
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function attach(textarea) {
    const pair = document.createElement("div");
    pair.className = "markdown-preview-pair";
    const preview = document.createElement("div");
    preview.className = "markdown-preview";
    preview.setAttribute("role", "region");
    preview.setAttribute("aria-live", "polite");
    preview.setAttribute("aria-label", textarea.dataset.previewLabel || "Preview");
    textarea.parentNode.insertBefore(pair, textarea);
    pair.append(textarea, preview);

    let timer = null;
    let controller = null;

    async function refresh() {
      if (controller) controller.abort();
      controller = new AbortController();
      const body = new FormData();
      body.append("text", textarea.value);
      // Which object is edited, so the preview can show its figures.
      if (textarea.dataset.previewObject) body.append("object", textarea.dataset.previewObject);
      try {
        const response = await fetch(textarea.dataset.markdownPreview, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(textarea.form), Accept: "application/json" },
          signal: controller.signal,
        });
        const data = await response.json();
        if (!response.ok) throw new Error(data.error || response.statusText);
        preview.classList.remove("markdown-preview--error");
        // Sanitised on the server by the same pipeline that renders the site.
        preview.innerHTML = data.html;
      } catch (error) {
        if (error.name === "AbortError") return;
        preview.classList.add("markdown-preview--error");
        preview.textContent = textarea.dataset.previewError || String(error);
      }
    }

    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, DELAY_MS);
    });
    refresh();
  }

  function start() {
    document.querySelectorAll("textarea[data-markdown-preview]").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
