// DICOM card of the project page (templates/projects/detail.html, managers only): saves the
// de-identification setting, the burned-in annotation rule and the project's window through PATCH /api/projects/<id>/ and shows the
// outcome, or the API's reasons when it refuses (docs/dicom.md).
(function () {
  "use strict";
  var section = document.getElementById("dicom-settings");
  var form = document.getElementById("dicom-form");
  if (!section || !form) { return; }
  var mode = document.getElementById("dicom-window");
  var status = document.getElementById("dicom-status");
  mode.addEventListener("change", function () { document.getElementById("dicom-custom").hidden = mode.value !== "custom"; });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var windowChoice = mode.value === "file" ? null : mode.value;
    if (mode.value === "custom") {
      windowChoice = { center: Number(document.getElementById("dicom-center").value),
                       width: Number(document.getElementById("dicom-width").value) };
    }
    status.textContent = "Saving…";
    fetch(section.dataset.apiUrl, {
      method: "PATCH", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value },
      body: JSON.stringify({ dicom_deidentify: document.getElementById("dicom-deidentify").checked,
                             dicom_burned_in: document.getElementById("dicom-burned-in").value,
                             dicom_window: windowChoice })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var reasons = Object.keys(body).filter(function (k) { return k !== "detail"; })
            .map(function (k) { return k + ": " + [].concat(body[k]).join(" "); });
          status.textContent = "Not saved: " + (reasons.join("; ") || body.detail);
          status.dataset.state = "error";
          return;
        }
        var render = body.dicom_render_state || {};
        status.dataset.state = "saved";
        status.textContent = "Saved." + (render.status ? " Re-render: " + render.status + " " + render.done + "/" + render.total : "");
      });
    }).catch(function (error) { status.textContent = "Not saved: " + error; status.dataset.state = "error"; });
  });
})();
