// Behaviour of the clerk pages, kept out of the HTML: the Content-Security-Policy allows no inline script or
// inline event handler (docs/security.md).
//   <select data-autosubmit>  submits its form when changed (language, service item)
//   <button data-print>       prints the page (receipts)
//   <input data-enter-next>   Enter moves to the next input instead of submitting (an ID-card reader types the
//                             number followed by Enter; the clerk goes on typing in the next field)
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key !== "Enter" || !target || !target.matches || !target.matches("input[data-enter-next]") || !target.form) {
      return;
    }
    event.preventDefault();
    var fields = Array.prototype.filter.call(target.form.elements, function (el) {
      return !el.disabled && el.type !== "hidden" && el.tabIndex >= 0 && el.offsetParent !== null;
    });
    var next = fields[fields.indexOf(target) + 1];
    if (next) {
      next.focus();
      if (next.select) { next.select(); }
    }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
