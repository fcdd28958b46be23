// A new object's slug follows its name (or title) until someone types one. Loaded before the editor's
// larger scripts, and it catches up with a name typed while the page was still loading.
(function () {
  "use strict";
  // The form marks a new object's slug with the field it follows (data-slug-from).
  var slug = document.querySelector("input[data-slug-from]");
  var name = slug && document.getElementById(slug.dataset.slugFrom);
  if (!name || slug.value) return;

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
