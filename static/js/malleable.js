// Malleable's few page behaviours. Every page works without them; they make it quicker.
(function () {
  "use strict";
  // Results that htmx swaps in get the focus, so keyboard and screen-reader users land on them.
  var ANNOUNCED = ["test-result", "connection-result", "dataset-preview", "runbook-preview", "test-alarm-result"];
  document.addEventListener("htmx:afterSettle", function (event) {
    var id = event.detail.target && event.detail.target.id;
    if (ANNOUNCED.indexOf(id) === -1) return;
    var element = document.getElementById(id);
    // A test run still running polls every second: its placeholder must not take the focus each time.
    if (element && !element.hasAttribute("data-pending")) {
      element.setAttribute("tabindex", "-1");
      element.focus();
    }
  });
  // The dashboard polls only while someone can see it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "dashboard-live" && document.visibilityState === "hidden") event.preventDefault();
  });
})();
