// Conflict page (数据大集中): take every field from one side at once, and hide the field choices when the decision
// is "different persons". Progressive: the form works without it. No inline script (Content-Security-Policy).
(function () {
  "use strict";
  var form = document.getElementById("propose-form");
  if (!form) { return; }
  form.querySelectorAll("[data-pick]").forEach(function (button) {
    button.addEventListener("click", function () {
      var side = button.getAttribute("data-pick");
      form.querySelectorAll('input[type="radio"][name^="choice_"]').forEach(function (radio) {
        radio.checked = radio.value === side;
      });
    });
  });
  function sync() {
    var chosen = form.querySelector('input[name="decision"]:checked');
    var separate = chosen && chosen.value === "separate";
    form.querySelectorAll('input[name^="choice_"], input[name="candidate"]').forEach(function (input) {
      input.disabled = separate;
    });
  }
  form.querySelectorAll('input[name="decision"]').forEach(function (radio) {
    radio.addEventListener("change", sync);
  });
  sync();
})();
