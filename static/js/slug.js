// A new object's slug follows its name until someone types one. Loaded before the editor's
// larger scripts, and it catches up with a name typed while the page was still loading.
(function () {
  "use strict";
  var name = document.getElementById("id_name");
  var slug = document.getElementById("id_slug");
  if (!name || !slug || slug.value) return;

  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50);
  }

  var touched = false;
  slug.addEventListener("input", function () { touched = slug.value !== ""; });
  function follow() {
    if (!touched) slug.value = slugify(name.value);
  }
  name.addEventListener("input", follow);
  follow();
})();
