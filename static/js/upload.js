// Upload page: posts the chosen files to the upload API in batches, showing byte progress.
// Batches keep each request well under the server's per-request limits and let one bad batch
// fail without losing the others; XMLHttpRequest is used because fetch() has no upload progress.
(function () {
  "use strict";
  var BATCH_FILES = 20;
  var BATCH_BYTES = 200 * 1024 * 1024;

  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("upload-files");
  var progress = document.getElementById("upload-progress");
  var statusLine = document.getElementById("upload-status");
  var result = document.getElementById("upload-result");
  var acceptedList = document.getElementById("upload-accepted");
  var rejectedList = document.getElementById("upload-rejected");
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function batchesOf(files) {
    var batches = [], current = [], bytes = 0;
    files.forEach(function (file) {
      if (current.length && (current.length >= BATCH_FILES || bytes + file.size > BATCH_BYTES)) {
        batches.push(current); current = []; bytes = 0;
      }
      current.push(file); bytes += file.size;
    });
    if (current.length) batches.push(current);
    return batches;
  }

  function addItem(list, text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function sendBatch(batch, onProgress) {
    return new Promise(function (resolve) {
      var data = new FormData();
      batch.forEach(function (file) { data.append("files", file, file.name); });
      var request = new XMLHttpRequest();
      request.open("POST", form.dataset.url);
      request.setRequestHeader("X-CSRFToken", csrfToken);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      request.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
        if (body && (body.accepted || body.rejected)) {
          resolve({ accepted: body.accepted || [], rejected: body.rejected || [] });
        } else {
          var reason = (body && body.detail) || ("server answered " + request.status);
          resolve({ accepted: [], rejected: batch.map(function (f) { return { name: f.name, reason: reason }; }) });
        }
      });
      request.addEventListener("error", function () {
        resolve({ accepted: [], rejected: batch.map(function (f) { return { name: f.name, reason: "network error" }; }) });
      });
      request.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files);
    if (!files.length) return;
    var totalBytes = files.reduce(function (sum, f) { return sum + f.size; }, 0) || 1;
    var doneBytes = 0, accepted = 0, rejected = 0;
    acceptedList.textContent = ""; rejectedList.textContent = "";
    progress.hidden = false; progress.value = 0;
    form.querySelector("button").disabled = true;

    var chain = Promise.resolve();
    batchesOf(files).forEach(function (batch) {
      var batchBytes = batch.reduce(function (sum, f) { return sum + f.size; }, 0);
      chain = chain.then(function () {
        return sendBatch(batch, function (loaded, total) {
          // The multipart body is slightly larger than the files; scale to the files' bytes.
          progress.value = Math.min(100, 100 * (doneBytes + batchBytes * loaded / total) / totalBytes);
          statusLine.textContent = "Uploading… " + Math.round(progress.value) + "%";
        }).then(function (report) {
          doneBytes += batchBytes;
          report.accepted.forEach(function (image) { accepted++; addItem(acceptedList, image.original_name + " (" + image.width + "×" + image.height + ")"); });
          report.rejected.forEach(function (item) { rejected++; addItem(rejectedList, item.name + ": " + item.reason); });
        });
      });
    });
    chain.then(function () {
      progress.value = 100;
      result.hidden = false;
      form.querySelector("button").disabled = false;
      statusLine.textContent = "Done: " + accepted + " accepted, " + rejected + " rejected.";
    });
  });
})();
