// Project page "Export" card: starts an export through the API, polls its progress and shows the
// download link when the Celery task is done. Plain DOM, no framework (like upload.js).
(function () {
  "use strict";
  var POLL_MS = 1000;
  var card = document.getElementById("exports");
  if (!card) return;
  var form = document.getElementById("export-form");
  var list = document.getElementById("export-list");
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var rows = {};  // export id -> <li>, so polling updates a row in place

  function request(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || ("server answered " + response.status));
        return data;
      });
    });
  }

  function render(exp) {
    var item = rows[exp.id];
    if (!item) {
      item = document.createElement("li");
      rows[exp.id] = item;
      list.insertBefore(item, list.firstChild);
    }
    item.textContent = "";
    var label = document.createElement("span");
    // Only COCO honours the mask choice (YOLO is always polygons, "masks" always PNGs): naming it on
    // other rows would claim an encoding the file does not have.
    var mode = exp.format === "coco" ? " (" + exp.options.segmentation + ")" : "";
    label.textContent = "#" + exp.id + " " + exp.format + mode + " — " + exp.status + " ";
    item.appendChild(label);
    if (exp.status === "queued" || exp.status === "running") {
      var bar = document.createElement("div");
      bar.className = "bar";
      var fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = Math.round(100 * exp.progress) + "%";
      bar.appendChild(fill);
      item.appendChild(bar);
    } else if (exp.status === "done" && exp.download_url) {
      var link = document.createElement("a");
      link.href = exp.download_url;
      link.textContent = "Download";
      item.appendChild(link);
    } else if (exp.status === "failed") {
      var error = document.createElement("span");
      error.className = "muted";
      error.textContent = exp.error;
      item.appendChild(error);
    }
  }

  function poll(id) {
    request("GET", card.dataset.detailUrl + id + "/").then(function (exp) {
      render(exp);
      if (exp.status === "queued" || exp.status === "running") setTimeout(function () { poll(id); }, POLL_MS);
    }).catch(function () { setTimeout(function () { poll(id); }, 5 * POLL_MS); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    var statuses = form.elements.statuses.value === "all" ? [] : ["approved"];
    request("POST", card.dataset.listUrl, {
      format: form.elements.format.value,
      segmentation: form.elements.segmentation.value,
      statuses: statuses,
      include_images: form.elements.include_images.checked,
      job_id: form.elements.job_id && form.elements.job_id.value ? Number(form.elements.job_id.value) : null,
    }).then(function (exp) { render(exp); poll(exp.id); })
      .catch(function (error) { window.alert("Export failed to start: " + error.message); })
      .then(function () { button.disabled = false; });
  });

  // Recent exports, oldest first so the newest ends on top; unfinished ones keep polling.
  request("GET", card.dataset.listUrl).then(function (exports) {
    exports.slice().reverse().forEach(function (exp) {
      render(exp);
      if (exp.status === "queued" || exp.status === "running") poll(exp.id);
    });
  });
})();
