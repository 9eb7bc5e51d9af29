// Show the chosen template's default title and description as placeholders.
(function () {
  "use strict";
  var data = document.getElementById("template-defaults");
  var select = document.getElementById("template_id");
  if (!data || !select) return;
  var defaults = JSON.parse(data.textContent);
  var title = document.getElementById("title");
  var description = document.getElementById("description");
  function update() {
    var d = defaults[select.value] || {};
    title.placeholder = d.title ? "Default: " + d.title : "Title";
    description.placeholder = d.description ? "Default: " + d.description : "Description";
  }
  select.addEventListener("change", update);
  update();
})();
