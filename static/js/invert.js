// The image inversion page, enhanced: drag and drop, an instant preview of the
// chosen picture, upload progress, and the result shown without a page reload.
// Without JavaScript the form posts to the page itself and the server renders
// the result, so everything here is optional.
(function () {
  "use strict";

  var form = document.querySelector("form.invert-form");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.URL || !URL.createObjectURL) {
    return;
  }
  var input = form.querySelector("input[type=file][name=image]");
  var drop = form.querySelector("[data-invert-drop]");
  var errorBox = form.querySelector("[data-invert-error]");
  var progress = form.querySelector("[data-invert-progress]");
  var status = form.querySelector("[data-invert-status]");
  var submit = form.querySelector("button[type=submit]");
  var result = document.querySelector("[data-invert-result]");
  var download = document.querySelector("[data-invert-download]");
  var size = document.querySelector("[data-invert-size]");
  var originalFigure = document.querySelector("[data-invert-figure=original]");
  var outputFigure = document.querySelector("[data-invert-figure=output]");
  var lang = document.documentElement.lang || "";
  var chinese = lang.indexOf("zh") === 0;
  var MAX_BYTES = 10 * 1024 * 1024;
  var urls = { original: null, output: null };

  function text(zh, en) {
    return chinese ? zh : en;
  }

  function replaceUrl(kind, blob) {
    if (urls[kind]) {
      URL.revokeObjectURL(urls[kind]);
    }
    urls[kind] = blob ? URL.createObjectURL(blob) : null;
    return urls[kind];
  }

  function watch(img, figure) {
    // A file the browser cannot show (TIFF, or no picture at all) gets no broken-image icon.
    img.addEventListener("error", function () {
      figure.hidden = true;
    });
    if (figure === originalFigure) {
      // The section appears once the browser has shown the chosen picture.
      img.addEventListener("load", function () {
        result.hidden = false;
      });
    }
  }

  // The figure's <img>, added on first use: an <img> needs a src, so the page
  // has none until there is a picture to show.
  function picture(figure, name) {
    var img = figure.querySelector("img");
    if (!img) {
      img = document.createElement("img");
      img.alt = figure.getAttribute("data-alt");
      img.setAttribute("data-invert-" + name, "");
      watch(img, figure);
      figure.insertBefore(img, figure.firstChild);
    }
    return img;
  }

  [originalFigure, outputFigure].forEach(function (figure) {
    var img = figure.querySelector("img");
    if (img) {
      watch(img, figure);
    }
  });

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function setBusy(busy) {
    submit.disabled = busy;
    progress.hidden = !busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function clearOutput() {
    var output = outputFigure.querySelector("img");
    if (output) {
      outputFigure.removeChild(output);
    }
    outputFigure.hidden = true;
    download.removeAttribute("href");
    download.removeAttribute("download");
    download.hidden = true;
    download.textContent = text("下载", "Download");
    if (size) {
      size.textContent = "";
    }
  }

  function showOriginal() {
    var file = input.files && input.files[0];
    showError("");
    clearOutput();
    if (!file) {
      return;
    }
    if (file.size > MAX_BYTES) {
      showError(text("文件超过 10 MiB。", "The file is larger than 10 MiB."));
    }
    // The section appears once the browser has shown the picture (see "load" below).
    result.hidden = true;
    originalFigure.hidden = false;
    picture(originalFigure, "original").src = replaceUrl("original", file);
    status.textContent = file.name;
  }

  // RFC 6266: prefer filename*=UTF-8''..., fall back to filename="...".
  function filenameFrom(header) {
    var match = /filename\*=UTF-8''([^;]+)/i.exec(header || "");
    if (match) {
      try {
        return decodeURIComponent(match[1]);
      } catch (ignored) {
        // fall through to the plain name
      }
    }
    match = /filename="([^"]+)"/i.exec(header || "");
    return match ? match[1] : "inverted";
  }

  function showResult(xhr) {
    var blob = xhr.response;
    var name = filenameFrom(xhr.getResponseHeader("Content-Disposition"));
    var url = replaceUrl("output", blob);
    outputFigure.hidden = false;
    picture(outputFigure, "output").src = url;
    download.hidden = false;
    download.href = url;
    download.setAttribute("download", name);
    download.textContent = text("下载 ", "Download ") + name;
    if (size) {
      size.textContent = Math.max(1, Math.round(blob.size / 1024)) + " KB";
    }
    result.hidden = false;
    status.textContent = text("完成", "Done");
  }

  function showFailure(xhr) {
    // Nothing was inverted: no half-empty result with a download button that does nothing.
    result.hidden = true;
    var fallback = text("处理失败（HTTP ", "The image could not be processed (HTTP ") + xhr.status + ")";
    if (!xhr.response || !xhr.response.text) {
      showError(fallback);
      return;
    }
    xhr.response.text().then(function (body) {
      var message = fallback;
      try {
        message = JSON.parse(body).error || fallback;
      } catch (ignored) {
        // not JSON: keep the generic message
      }
      showError(message);
    });
  }

  input.addEventListener("change", showOriginal);

  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (event) {
      event.preventDefault();
      drop.classList.add("is-dragging");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (type) {
    drop.addEventListener(type, function () {
      drop.classList.remove("is-dragging");
    });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) {
      return;
    }
    try {
      input.files = files;
    } catch (ignored) {
      showError(text("此浏览器不支持拖放，请点击选择文件。", "Drop is not supported here; click to choose the file."));
      return;
    }
    showOriginal();
  });

  form.addEventListener("submit", function (event) {
    if (!input.files || !input.files.length) {
      return; // let the server explain what is missing
    }
    event.preventDefault();
    showError("");
    clearOutput();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-api-url"));
    xhr.responseType = "blob";
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = text("上传中 ", "Uploading ") + progress.value + "%";
      }
    });
    xhr.upload.addEventListener("load", function () {
      status.textContent = text("处理中…", "Processing…");
    });
    xhr.addEventListener("load", function () {
      setBusy(false);
      if (xhr.status === 200) {
        showResult(xhr);
      } else {
        status.textContent = "";
        showFailure(xhr);
      }
    });
    xhr.addEventListener("error", function () {
      setBusy(false);
      status.textContent = "";
      showError(text("网络错误，请重试。", "Network error; please try again."));
    });
    progress.value = 0;
    setBusy(true);
    xhr.send(new FormData(form));
  });
})();
