// The report's embedded stylesheet: readable on screen, clean on paper (figures and table
// rows never split across pages, colours printed as drawn, links not underlined).

extension HTMLReport {
    static let css = """
        :root { color-scheme: light; }
        body { font-family: system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
          line-height: 1.5; color: #1a1a1a; background: #ffffff; max-width: 1040px; margin: 2rem auto; padding: 0 1.25rem; }
        header { margin-bottom: 1.5rem; }
        h1 { font-size: 1.75rem; line-height: 1.2; margin: 0 0 .3rem; }
        .subtitle { color: #555555; margin: 0; }
        h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 1px solid #dddddd; }
        h3 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
        h4 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
        p, ul { margin: .6rem 0; }
        a { color: #0b5394; }
        code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em; }
        code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
        pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: .6rem .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
        pre code { background: none; padding: 0; }
        nav.toc { border: 1px solid #e2e2e2; background: #fafafa; padding: .5rem 1rem; margin: 1rem 0 1.5rem; }
        .toc-title { font-weight: 600; margin: 0; }
        nav.toc ol { margin: .3rem 0; }
        dl.kv { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .8rem 0; }
        dl.kv dt { font-weight: 600; }
        dl.kv dd { margin: 0; overflow-wrap: anywhere; }
        figure { margin: 1.6rem 0; break-inside: avoid; page-break-inside: avoid; }
        figure .plot { overflow-x: auto; }
        figure svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
        figcaption { font-size: .92rem; color: #333333; margin-top: .5rem; }
        .label { font-weight: 600; }
        .files { color: #666666; }
        .table-wrap { overflow-x: auto; margin: 1rem 0; }
        table { border-collapse: collapse; font-size: .92rem; }
        caption { caption-side: top; text-align: left; margin-bottom: .35rem; }
        th, td { border: 1px solid #b8b8b8; padding: .25rem .6rem; text-align: left; vertical-align: top; }
        th { background: #f0f0f0; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tbody tr:nth-child(even) { background: #fafafa; }
        @page { margin: 16mm 14mm; }
        @media print {
          body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
          * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
          nav.toc { display: none; }
          a { color: inherit; text-decoration: none; }
          h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
          figure, pre, dl.kv { break-inside: avoid; page-break-inside: avoid; }
          figure .plot, .table-wrap { overflow: visible; }
          thead { display: table-header-group; }
          tr { break-inside: avoid; page-break-inside: avoid; }
          h2 { border-bottom-color: #999999; }
        }

        """
}
