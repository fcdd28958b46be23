// The checker editor: sections by kind, the rule builder's sentence, and the code editor
// (CodeMirror 5, vendored) with line numbers, highlighting and the error line marked.
(function () {
  "use strict";
  var form = document.querySelector("[data-kind-form]");
  if (!form) return;

  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "rule";
  }

  function showSections() {
    form.querySelectorAll(".kind-section").forEach(function (section) {
      var kinds = (section.getAttribute("data-kind") || "").split(" ");
      section.hidden = kinds.indexOf(kind()) === -1;
    });
    var upload = document.getElementById("div_id_wasm_upload");
    if (upload) upload.hidden = kind() !== "wasm";
  }

  // --- The rule builder: each rule in words, as you build it; rows added from a template. ---
  function text(element) {
    if (!element) return "";
    if (element.tagName === "SELECT") {
      var option = element.options[element.selectedIndex];
      return option && option.value ? option.text : "";
    }
    return element.value.trim();
  }

  var nounsScript = document.getElementById("metric-nouns");
  var nouns = nounsScript ? JSON.parse(nounsScript.textContent) : {};

  function ruleSentence(row) {
    var sentence = row.querySelector("[data-testid=rule-sentence]");
    if (!sentence) return;
    function named(suffix) { return row.querySelector("[name$='-" + suffix + "']"); }
    var metric = named("metric");
    var needsColumn = metric && ["row_count", "scalar"].indexOf(metric.value) === -1;
    var op = named("op");
    row.querySelectorAll(".rule-column").forEach(function (c) { c.hidden = !needsColumn; });
    row.querySelectorAll(".rule-high").forEach(function (c) { c.hidden = !(op && op.value === "between"); });
    var compare = named("compare");
    var against = compare ? compare.value : "";
    row.querySelectorAll(".rule-bound").forEach(function (c) { c.hidden = against === "band"; });
    row.querySelectorAll(".rule-band").forEach(function (c) { c.hidden = against !== "band"; });
    row.querySelectorAll(".rule-history").forEach(function (c) { c.hidden = against === ""; });
    var days = named("days");
    var otherBound = days && days.value === "bound";
    row.querySelectorAll(".rule-off").forEach(function (c) { c.hidden = !otherBound; });
    row.querySelectorAll(".rule-off-high").forEach(function (c) { c.hidden = !(otherBound && op && op.value === "between"); });
    var counting = metric && metric.value === "row_count" && against === "";
    row.querySelectorAll(".rule-key").forEach(function (c) { c.hidden = !counting; });
    var dataset = text(named("dataset")) || "…";
    var measure = (metric && nouns[metric.value]) || "…";
    var column = needsColumn ? " of column " + (text(named("column")) || "…") : "";
    var bound = op && op.value === "between"
      ? "between " + (text(named("value")) || "…") + " and " + (text(named("high")) || "…")
      : (op ? op.value : "") + " " + (text(named("value")) || "…");
    if (against === "band") bound = "inside the band of its history";
    else if (against) bound = "changing since the previous run by " + bound + (against === "change_pct" ? " %" : "");
    sentence.textContent = "Green while the " + measure + column + " of " + dataset + " is " + bound + "; red otherwise.";
  }

  function ruleSentences() {
    form.querySelectorAll("[data-rule-row]").forEach(ruleSentence);
  }

  var addRule = form.querySelector("[data-add-rule]");
  var rowTemplate = document.getElementById("rule-row-template");
  var totalForms = form.querySelector("input[name=rules-TOTAL_FORMS]");
  if (addRule && rowTemplate && totalForms) {
    addRule.addEventListener("click", function () {
      var index = parseInt(totalForms.value, 10);
      var holder = document.createElement("div");
      holder.innerHTML = rowTemplate.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.firstElementChild;
      document.getElementById("rule-rows").appendChild(row);
      totalForms.value = String(index + 1);
      ruleSentence(row);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
    });
  }

  // --- The code editor ---
  var source = document.getElementById("id_source");
  var editor = null;
  if (source && window.CodeMirror) {
    var label = document.querySelector("label[for=id_source]");
    editor = CodeMirror.fromTextArea(source, {
      lineNumbers: true,
      mode: kind() === "python" ? "python" : "wast",
      indentUnit: 4,
      tabSize: 4,
      indentWithTabs: false,
      matchBrackets: true,
      autoCloseBrackets: true,
      viewportMargin: Infinity,
      lineWrapping: true,
      readOnly: source.disabled ? "nocursor" : false,
      screenReaderLabel: label ? label.textContent.trim() : "Code",
      extraKeys: {
        Tab: function (cm) { cm.execCommand(cm.somethingSelected() ? "indentMore" : "insertSoftTab"); },
        "Shift-Tab": "indentLess",
        Esc: function () {
          var next = document.getElementById("id_wasm_upload") || document.getElementById("id_datasets_0");
          if (next) next.focus();
        },
      },
    });
    editor.getWrapperElement().setAttribute("data-testid", "code-editor");
    editor.on("change", function (cm) { cm.save(); });
    if (label) label.addEventListener("click", function () { editor.focus(); });
  }

  var marked = null;
  function markErrorLine(line, scroll) {
    if (!editor) return;
    if (marked !== null) editor.removeLineClass(marked, "background", "cm-error-line");
    marked = null;
    var number = parseInt(line, 10);
    if (!number || number < 1 || number > editor.lineCount()) return;
    marked = number - 1;
    editor.addLineClass(marked, "background", "cm-error-line");
    if (scroll) editor.scrollIntoView({ line: marked, ch: 0 }, 80);
  }

  var holder = document.getElementById("error-line-holder");
  if (holder) markErrorLine(holder.getAttribute("data-error-line"), false);
  var errors = document.getElementById("form-errors");
  if (errors) errors.focus();
  document.addEventListener("htmx:afterSettle", function () {
    var result = document.getElementById("test-result");
    markErrorLine(result ? result.getAttribute("data-error-line") : null, false);
  });

  // A failed save's errors describe the form as it was sent. A test run says how the form is now
  // (its own result shows any error again), so it takes them all away; changing a field takes
  // away that field's own error. The page never keeps an error that was fixed.
  function dropFieldError(field) {
    var wrapper = field.closest(".mb-3, .form-group") || field.parentElement;
    wrapper.querySelectorAll(".invalid-feedback").forEach(function (error) { error.remove(); });
    wrapper.querySelectorAll(".is-invalid").forEach(function (input) { input.classList.remove("is-invalid"); });
  }
  function dropSaveErrors() {
    var banner = document.getElementById("form-errors");
    if (banner) banner.remove();
    form.querySelectorAll(".is-invalid").forEach(dropFieldError);
    form.querySelectorAll(".invalid-feedback").forEach(function (error) { error.remove(); });
    markErrorLine(null, false);
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt && event.detail.elt.getAttribute("data-testid") === "editor-test-run") dropSaveErrors();
  });
  form.addEventListener("input", function (event) {
    if (event.target.classList.contains("is-invalid")) dropFieldError(event.target);
  });
  if (editor) {
    editor.on("change", function () {
      if (source.classList.contains("is-invalid")) dropFieldError(source);
      markErrorLine(null, false);
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") {
      showSections();
      if (editor) editor.setOption("mode", kind() === "python" ? "python" : "wast");
      if (editor) editor.refresh();
    }
    ruleSentences();
  });
  form.addEventListener("input", ruleSentences);

  showSections();
  ruleSentences();
})();
