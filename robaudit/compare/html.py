"""leaderboard.html: one self-contained page (inline style, script and base64 PNG figures, no
request leaves it) with the sortable table and the figures. Every string from a report, a sweep
or the user is escaped."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from robaudit.compare.document import Leaderboard
from robaudit.compare.tables import default_sort_key, format_value, shown_columns, sorted_rows

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} p.note{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.82em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
td.text,th.text{text-align:left} th{background:#f0f0f0;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
tr.failed td,tr.skipped td{color:#a00;background:#fff6f6}
.figs{display:flex;flex-wrap:wrap;gap:12px;margin-top:1.5em}
figure{margin:0;border:1px solid #ddd;padding:4px} figure img{max-width:560px;display:block}
figcaption{font-size:.8em;color:#555}
"""

# Click a header: sort best first (its direction; ascending when it has none); again: reverse.
SCRIPT = """
(function(){
  const table=document.getElementById('leaderboard');
  const body=table.tBodies[0];
  let current=null, descending=false;
  function key(row,i){const c=row.cells[i];const v=c.dataset.value;
    return v===undefined||v===''?null:(c.dataset.numeric==='1'?parseFloat(v):v);}
  function sortBy(th){
    const i=th.cellIndex;
    if(current===th){descending=!descending;}else{current=th;descending=th.dataset.dir==='higher';}
    const rows=Array.from(body.rows);
    rows.sort(function(a,b){const x=key(a,i),y=key(b,i);
      if(x===null&&y===null)return 0; if(x===null)return 1; if(y===null)return -1;
      const d=x<y?-1:(x>y?1:0); return descending?-d:d;});
    rows.forEach(function(r){body.appendChild(r);});
    table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',descending?'descending':'ascending');
  }
  table.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){sortBy(th);});});
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(board: Leaderboard) -> str:
    keys = shown_columns(board)
    columns = {c.key: c for c in board.columns}
    head = []
    for key in keys:
        col = columns[key]
        unit = f" [{col.unit}]" if col.unit else ""
        head.append(f'<th class="{"num" if col.numeric else "text"}" data-key="{_e(key)}" '
                    f'data-dir="{_e(col.direction or "")}" title="{_e(col.label + unit)}">{_e(col.label)}</th>')
    rows = []
    for row in sorted_rows(board, default_sort_key(board)):
        cells = []
        for key in keys:
            col, value = columns[key], row.values.get(key)
            shown = _e(format_value(value, col.unit))
            if key == "name" and row.link:
                shown = f'<a href="{_e(row.link)}">{shown}</a>'
            raw = "" if value is None else _e(json.dumps(value) if col.numeric else value)
            cells.append(f'<td class="{"num" if col.numeric else "text"}" data-numeric="{int(col.numeric)}" '
                         f'data-value="{raw}">{shown}</td>')
        rows.append(f'<tr class="{_e(row.status)}" data-name="{_e(row.name)}">{"".join(cells)}</tr>')
    return (f'<table id="leaderboard"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _figures(board: Leaderboard, folder: Path) -> str:
    items = []
    for name in board.figures:
        data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
        items.append(f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{_e(name)}</figcaption></figure>")
    return f'<div class="figs">{"".join(items)}</div>'


def render_html(board: Leaderboard, folder: Path) -> str:
    """The page; figures are read from ``folder`` (where leaderboard.html is written)."""
    correlations = "".join(
        f"<li>Spearman ρ({_e(c.x)}, {_e(c.y)}) = {c.rho:.2f}"
        + ("" if c.ci_low is None else f", 95 % interval [{c.ci_low:.2f}, {c.ci_high:.2f}]")
        + f" over {c.n} models</li>" for c in board.correlations if c.rho is not None)
    mixed = (f'<p class="note">Settings differ across reports: {_e(", ".join(board.differing_settings))} '
             "(see the settings column).</p>" if board.differing_settings else "")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>robaudit leaderboard</title><style>{STYLE}</style></head><body>"
        f"<h1>robaudit leaderboard</h1><p class=\"note\">{len(board.rows)} models, created {_e(board.created)}. "
        "Click a column header to sort (best first); click again to reverse. Models link to their report cards."
        f"</p>{mixed}{_table(board)}<ul>{correlations}</ul>{_figures(board, folder)}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
