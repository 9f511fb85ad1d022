// Behaviour of the clerk pages, kept out of the HTML: the Content-Security-Policy allows no inline script or
// inline event handler (docs/security.md).
//   <select data-autosubmit>  submits its form when changed (language, service item)
//   <button data-print>       prints the page (receipts)
(function () {
  "use strict";
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
