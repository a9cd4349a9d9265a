"""Sphinx extension: the PDF numbers chapters, propositions and figures as the website does.

1. Chapter numbers. The website numbers only the chapters of the "Chapters" part
   (``numbered: true`` in ``_toc.yml``); LaTeX numbered every page, so the first
   chapter was chapter 3 of the PDF while its propositions and equations said 1.x.
   Pages the website leaves unnumbered (how to use, glossary, bibliography) are
   unnumbered chapters here too (``secnumdepth`` -1, figures and equations numbered
   1, 2, ... there), so chapter *n* is chapter *n* in both.
2. Long tables (the glossary) break across pages (``longtable``) instead of running
   over the page foot.
3. Labels of sphinx-proof (0.4). In LaTeX it writes ``\\label{<docname>:<label>}``
   before each theorem or proposition and numbers it from ``toc_fignumbers[<docname>]``;
   it finds ``<docname>`` by walking up to a section whose names contain the page title.
   In the one document LaTeX assembles from every page that search fails (no section
   carries a ``docname``, and a title with a typographic apostrophe never matches its
   section name): labels came out as ``None:<label>``, every ``{prf:ref}`` pointed
   nowhere and the boxes had no number. Here the page is the nearest enclosing
   ``start_of_file`` node, which the LaTeX builder puts around each page it inlines.
"""
from docutils import nodes
from sphinx import addnodes

#: Tables with more rows than this may break across pages in the PDF.
LONG_TABLE_ROWS = 15
_SAVE = r"\edef\vaebooksecnumdepth{\arabic{secnumdepth}}"
_UNNUMBERED = (r"\setcounter{secnumdepth}{-1}\renewcommand{\thefigure}{\arabic{figure}}"
               r"\renewcommand{\theequation}{\arabic{equation}}")
_NUMBERED = (r"\setcounter{secnumdepth}{\vaebooksecnumdepth}"
             r"\renewcommand{\thefigure}{\thechapter.\arabic{figure}}"
             r"\renewcommand{\theequation}{\thechapter.\arabic{equation}}")


def _page_of(env, node, parent_tag=None):
    """The document name of the page ``node`` belongs to in the assembled LaTeX tree."""
    while node is not None:
        if isinstance(node, addnodes.start_of_file) or node.get("docname"):
            return node["docname"]
        node = node.parent
    return None


def _number_like_the_website(app, doctree, docname):
    if app.builder.format != "latex":
        return
    docs = app.env.all_docs
    # chapter-level pages: no enclosing page (part wrappers of Jupyter Book's LaTeX
    # class are start_of_file nodes named after the part caption, not documents)
    pages = [p for p in doctree.findall(addnodes.start_of_file) if p["docname"] in docs
             and not any(isinstance(a, addnodes.start_of_file) and a["docname"] in docs
                         for a in _ancestors(p))]
    numbered_before = True
    for i, page in enumerate(pages):
        numbered = bool(app.env.toc_secnumbers.get(page["docname"]))
        if numbered != numbered_before or i == 0:
            latex = (_SAVE if i == 0 else "") + (_NUMBERED if numbered else _UNNUMBERED)
            page.parent.insert(page.parent.index(page), nodes.raw("", latex, format="latex"))
        numbered_before = numbered


def _long_tables_break_across_pages(app, doctree, docname):
    if app.builder.format != "latex":
        return
    for table in doctree.findall(nodes.table):
        rows = list(table.findall(nodes.row))
        if len(rows) <= LONG_TABLE_ROWS:
            continue
        # a longtable needs explicit widths to wrap its cells: share the line width
        # by each column's mean text length (at least a fifth each)
        lengths = [[len(entry.astext()) for entry in row.findall(nodes.entry)] for row in rows]
        n_cols = max(map(len, lengths))
        mean = [sum(r[c] for r in lengths if c < len(r)) / len(lengths) for c in range(n_cols)]
        widths = [max(m / sum(mean), 1 / 5) for m in mean]
        for colspec, width in zip(table.findall(nodes.colspec), widths):
            colspec["colwidth"] = round(100 * width / sum(widths))
        table["classes"] += ["longtable", "colwidths-given"]


def _ancestors(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    import sphinx_proof.nodes

    sphinx_proof.nodes.find_parent = _page_of
    app.connect("doctree-resolved", _number_like_the_website)
    app.connect("doctree-resolved", _long_tables_break_across_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
