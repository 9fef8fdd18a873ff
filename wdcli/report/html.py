"""The report page: one HTML file with its style and figures inline (no script, nothing fetched to open it)."""

from __future__ import annotations

import html
import math

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; }
header { background: #1f3b57; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; opacity: .9; }
nav { padding: 8px 32px; background: #eef2f6; position: sticky; top: 0; }
nav a { margin-right: 14px; color: #1f3b57; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1100px; }
section { margin: 26px 0; }
h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: right; }
th:first-child, td:first-child, td.name { text-align: left; }
td.name { font-family: ui-monospace, monospace; font-size: 12px; }
.note { color: #555; }
figure { margin: 8px 0; }
figure svg { max-width: 100%; height: auto; }
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


ROUNDED = {"rows_per_s": "{:,.0f}", "seconds": "{:,.1f}", "rows": "{:,.0f}"}  # columns of figures not read to 4 places


def fmt(v, column: str = "") -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ROUNDED.get(column, "{:.4f}").format(v)
    return f"{v:,}" if isinstance(v, int) else esc(v)


def table(header: list[str], rows: list[list], name_columns: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="name">{esc(v)}</td>' if i in name_columns else f"<td>{fmt(v, header[i])}</td>"
            for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(id_: str, title: str, *parts: str) -> str:
    return f'<section id="{esc(id_)}"><h2>{esc(title)}</h2>{"".join(parts)}</section>'


def figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, lines: list[str], sections: list[tuple[str, str, str]]) -> str:
    """sections: (id, title, inner html)."""
    nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    body = "".join(section(i, t, inner) for i, t, inner in sections)
    head = "".join(f"<p>{esc(x)}</p>" for x in lines)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body><header><h1>{esc(title)}</h1>{head}</header><nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
