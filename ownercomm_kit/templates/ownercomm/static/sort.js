/* Click a column header to sort the table by it (numbers by value, text A-Z); click again to reverse. */
(function () {
  function key(td) {
    var k = td.getAttribute("data-sort");
    if (k !== null && k !== "" && !isNaN(parseFloat(k)) && /^-?[0-9.eE+-]+$/.test(k)) { return parseFloat(k); }
    return (k !== null && k !== "" ? k : td.textContent).toLowerCase();
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var empty = (x === "") - (y === "");
      if (empty) { return empty; }  /* blanks last either way */
      var c = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  document.querySelectorAll("table.oc-sortable").forEach(function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      th.addEventListener("click", function () { sortBy(table, i, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, i, th); } });
    });
  });
})();
/* A chart drawn inside a folded section gets its size when the section opens. */
function ocResize(root) {
  if (!window.Plotly) { return; }
  root.querySelectorAll(".oc-plot").forEach(function (el) {
    try { window.Plotly.Plots.resize(el); } catch (e) { /* a chart that never drew */ }
  });
}
document.querySelectorAll("details.oc-details").forEach(function (d) {
  d.addEventListener("toggle", function () { if (d.open) { ocResize(d); } });
});
/* A link of the table of contents (or a #section address) opens the section it points to. */
function ocOpenTarget() {
  var id = decodeURIComponent((location.hash || "").slice(1));
  var el = id ? document.getElementById(id) : null;
  var d = el ? el.querySelector("details.oc-details") : null;
  if (d && !d.open) { d.open = true; }
}
window.addEventListener("hashchange", ocOpenTarget);
ocOpenTarget();
/* Printing: every section open, each chart redrawn at the printed page's width; folded back after. */
var ocFolded = [];
window.addEventListener("beforeprint", function () {
  ocFolded = Array.prototype.filter.call(document.querySelectorAll("details.oc-details"), function (d) { return !d.open; });
  ocFolded.forEach(function (d) { d.open = true; });
  ocResize(document);
});
window.addEventListener("afterprint", function () {
  ocFolded.forEach(function (d) { d.open = false; });
  ocFolded = [];
  ocResize(document);
});
