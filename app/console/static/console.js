// oneexam console: keyboard entry in the results grid, confirmations. No framework beyond htmx.
(function () {
  "use strict";

  function cells(grid) {
    return Array.prototype.slice.call(grid.querySelectorAll("input[data-row]"));
  }

  // Enter moves down the column (to the top of the next column after the last row), as in a
  // paper 成绩登记表; Tab moves along the row as usual; Shift+Enter moves up.
  function onGridKey(event) {
    var input = event.target;
    if (event.key !== "Enter" || !input.matches || !input.matches("input[data-row]")) return;
    event.preventDefault();
    var grid = input.closest("table.results");
    var all = cells(grid);
    var col = Number(input.dataset.col), row = Number(input.dataset.row);
    var byPos = {};
    all.forEach(function (c) { byPos[c.dataset.col + ":" + c.dataset.row] = c; });
    var rows = Number(grid.dataset.rows), cols = Number(grid.dataset.cols);
    var step = event.shiftKey ? -1 : 1;
    for (var i = 0; i < rows * cols; i++) {
      row += step;
      if (row >= rows) { row = 0; col = (col + 1) % cols; }
      if (row < 0) { row = rows - 1; col = (col - 1 + cols) % cols; }
      var next = byPos[col + ":" + row];
      if (next) { next.focus(); next.select(); return; }
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.target && event.target.closest && event.target.closest("table.results")) {
      onGridKey(event);
    }
  });

  // After htmx swaps the grid back in with marked cells, put the cursor on the first bad one.
  document.addEventListener("htmx:afterSwap", function (event) {
    var bad = event.target.querySelector && event.target.querySelector("td.cell-bad input");
    if (bad) { bad.focus(); bad.select(); }
  });

  // htmx shows 4xx answers too: the console answers forms it refuses with the form marked.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) { event.detail.shouldSwap = true; event.detail.isError = false; }
  });
})();
