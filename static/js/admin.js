// Admin behaviour that third-party templates wrote as inline scripts and handlers, which the
// Content-Security-Policy does not run (docs/security.md).
(function () {
  "use strict";
  // django-import-export, export form: "select all" fields toggle.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("select-toggle") &&
        typeof window.onSelectToggleChange === "function") {
      window.onSelectToggleChange(event);
    }
  });
  // django-celery-beat, periodic task form: the crontab's readable translation under its help text.
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("readable-crontabs");
    var holder = document.getElementById("periodic-task-crontab-help");
    var select = document.getElementById("id_crontab");
    if (!data || !holder || !select) {
      return;
    }
    var readable = JSON.parse(data.textContent);
    var help = document.querySelector(".field-crontab .help");
    var translation = document.querySelector(".field-crontab_translation");
    if (translation) {
      translation.hidden = true;
    }
    select.addEventListener("change", function () {
      if (help) {
        help.textContent = holder.dataset.help + " — " + (readable[select.value] || "");
      }
    });
  });
})();
