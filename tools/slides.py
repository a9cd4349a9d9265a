"""Build one reveal.js deck per chapter: ``_build/slides/NN_topic.slides.html``.

Usage: .venv/bin/python tools/slides.py [notebook ...]   (default: every chapter, and the
how-to page, which shows every kind of mark)

What goes on a slide is chosen by cell metadata in the notebooks (CONTRIBUTING.md,
"Slides"), so a deck follows its chapter when the chapter changes:

``"slideshow": {"slide_type": ...}``
    JupyterLab's own key (Property Inspector > Slide Type). ``slide`` starts a slide,
    ``subslide`` a slide below it, ``fragment`` appears on the next click, ``-`` joins
    the current slide, ``notes`` goes to the speaker notes, ``skip`` is left out.
``"lecture": {"show": ...}``
    Optional. For a markdown cell ``"all"`` (default) or ``"math"``: only its headings,
    display equations and ``**Question.**`` paragraphs go on the slide, the rest of the
    cell into the speaker notes. For a code cell ``"output"`` (default: what the cell
    shows, e.g. a figure or a slider) or ``"code"`` (its source too).

A markdown cell without ``slideshow`` metadata becomes the speaker notes of the slide it
follows, so the prose is there for the lecturer; a code cell without it is left out. A
notebook with no ``slideshow`` metadata at all gets an automatic deck: the title and
every section heading with its display equations, each slider and captioned figure on
a slide of its own, and the prose as speaker notes.

Outputs come from the website build's execution cache (``_build/.jupyter_cache``); a
notebook not in it is executed (with every slider frame) and added to it. Sliders are
the kernel-free HTML sliders of ``vaelib.widgets``; MyST syntax (roles, directives,
labelled equations) is turned into what reveal.js and MathJax understand, with the
book's equation numbers and TeX macros. reveal.js and MathJax are copied from the npm
packages ``make js-deps`` installs, so the decks need no network.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "slides"
CACHE = ROOT / "_build" / ".jupyter_cache"
NODE_MODULES = ROOT / ".cache" / "js" / "node_modules"
DEMO = ROOT / "pages" / "how_to_use.ipynb"
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "notes", "skip"}
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso", "admonition"}
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<body>[^`]*)`")
LABELLED_MATH = re.compile(r"\$\$(?P<tex>.+?)\$\$[ \t]*\((?P<label>[\w:-]+)\)", re.S)
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)


# -- which cells, and what of them ---------------------------------------------------------
def slide_type(cell) -> str | None:
    """The cell's ``slideshow.slide_type`` (None when the cell is not marked)."""
    kind = cell.metadata.get("slideshow", {}).get("slide_type")
    if kind is not None and kind not in SLIDE_TYPES:
        raise ValueError(f"slide_type {kind!r} is not one of {sorted(SLIDE_TYPES)}")
    return kind


def show(cell) -> str:
    value = cell.metadata.get("lecture", {}).get("show")
    allowed = ("all", "math") if cell.cell_type == "markdown" else ("output", "code")
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise ValueError(f"lecture.show {value!r} of a {cell.cell_type} cell: use one of {allowed}")
    return value


def is_explorer(cell) -> bool:
    return cell.cell_type == "code" and any(
        "vaebook-explorer" in str(o.get("data", {}).get("text/html", ""))
        for o in cell.get("outputs", []))


def auto_marks(nb) -> None:
    """Mark a notebook without slide metadata (see the module notes).

    Each title or section heading (``#``, ``##``) starts a slide showing its display
    equations; each slider or captioned figure gets a slide below it, with the
    ``**Question.**`` of the markdown cell just above a slider when there is one.
    """
    nb.cells = [part for cell in nb.cells for part in _split_at_headings(cell)]
    previous = None
    for cell in nb.cells:
        if "remove-cell" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source.lstrip()):
            _mark(cell, "slide", "math")
        elif is_explorer(cell) and previous is not None and "**Question" in previous.source \
                and slide_type(previous) is None:
            _mark(previous, "subslide", "math")
            _mark(cell, "-")
        elif is_explorer(cell) or (cell.cell_type == "code"
                                   and cell.metadata.get("mystnb", {}).get("figure")):
            _mark(cell, "subslide")
        if cell.cell_type == "markdown":
            previous = cell


def _mark(cell, kind: str, shown: str | None = None) -> None:
    cell.metadata["slideshow"] = {"slide_type": kind}
    if shown:
        cell.metadata["lecture"] = {"show": shown}


def _split_at_headings(cell) -> list:
    """A markdown cell cut before each ``#``/``##`` heading (outside code fences)."""
    if cell.cell_type != "markdown":
        return [cell]
    parts, current, fence = [], [], None
    for line in cell.source.splitlines():
        stripped = line.strip()
        if fence is None and re.match(r"#{1,2} ", line) and any(x.strip() for x in current):
            parts.append(current)
            current = []
        current.append(line)
        if fence is None:
            opened = re.match(r"(`{3,}|:{3,})", stripped)
            fence = opened.group(1) if opened else None
        elif stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence = None
    parts.append(current)
    cells = []
    for lines in parts:
        new = nbformat.from_dict(json.loads(json.dumps(cell)))
        new.source = "\n".join(lines)
        cells.append(new)
    return cells


def split_for_slide(markdown: str) -> tuple[str, str]:
    """(slide, notes) of a markdown cell shown as ``math``: headings, display equations
    and question paragraphs stay on the slide, the other paragraphs become notes."""
    slide, notes = [], []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        text = block.strip()
        if text.startswith("#") or text.startswith("**Question"):
            slide.append(text)
        elif DISPLAY_MATH.search(text):
            slide.extend(m.group(0) + _label_after(text, m.end())
                         for m in DISPLAY_MATH.finditer(text))
            rest = re.sub(DISPLAY_MATH.pattern + r"[ \t]*(\([\w:-]+\))?", "", text,
                          flags=re.S).strip()
            if rest:
                notes.append(rest)
        else:
            notes.append(block)
    return "\n\n".join(slide), "\n\n".join(notes)


def _label_after(text: str, end: int) -> str:
    label = re.match(r"[ \t]*\([\w:-]+\)", text[end:])
    return label.group(0) if label else ""


# -- MyST to the markdown nbconvert and MathJax read ------------------------------------
def equation_numbers(nb, chapter: int | None) -> dict[str, str]:
    """The book's number of each labelled equation: (chapter.k), or (k) on a page
    without a chapter number, counted in order as the website counts them."""
    numbers = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in LABELLED_MATH.finditer(cell.source):
                k = len(numbers) + 1
                numbers[m.group("label")] = f"{chapter}.{k}" if chapter else str(k)
    return numbers


def myst_to_markdown(text: str, numbers: dict[str, str]) -> str:
    """Rewrite MyST constructs into plain markdown with MathJax math."""
    text = _directives(text.splitlines(), numbers)
    text = LABELLED_MATH.sub(
        lambda m: "$$" + m.group("tex").rstrip()
        + (f" \\tag{{{numbers[m.group('label')]}}}" if m.group("label") in numbers else "")
        + "$$", text)
    text = ROLE.sub(lambda m: _role(m.group("name"), m.group("body"), numbers), text)
    lines = [ln for ln in text.splitlines()
             if not re.match(r"^\s*(%|\([\w:-]+\)=\s*$)", ln)]   # comments, targets
    return "\n".join(lines)


def _role(name: str, body: str, numbers: dict[str, str]) -> str:
    explicit = re.match(r"(?P<text>.*?)\s*<(?P<target>[^>]+)>$", body, re.S)
    text, target = (explicit["text"], explicit["target"]) if explicit else (None, body)
    if name == "eq":
        return f"({numbers.get(target, target)})"
    if name == "math":
        return f"${body}$"
    if name.startswith("cite"):
        return "[" + ", ".join(k.strip() for k in body.split(",")) + "]"
    if name == "doc":
        return text or _document_title(target)
    return text or target


def _document_title(target: str) -> str:
    """The title of the book page ``target`` (a {doc} path), as the website prints it."""
    stem = ROOT / re.sub(r"^(\.\./)+|^/", "", target)
    for path in (stem.with_suffix(".ipynb"), stem.with_suffix(".md")):
        if path.exists():
            pages = nbformat.read(path, as_version=4).cells if path.suffix == ".ipynb" else [
                nbformat.v4.new_markdown_cell(path.read_text())]
            return title_of(nbformat.v4.new_notebook(cells=pages)) or stem.name
    return stem.name


def _directives(lines: list[str], numbers: dict[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, name, arg = m["fence"], m["name"], m["arg"].strip()
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence[0] * len(fence))
                                        and lines[end].strip().strip(fence[0]) == ""):
            end += 1
        body = lines[i + 1:end]
        while body and re.match(r"^\s*:[\w-]+:", body[0]):   # directive options
            body = body[1:]
        i = end + 1
        if name == "solution-start":   # a solution is skipped up to its end marker
            end_marker = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")
            while i < len(lines) and not end_marker.match(lines[i].strip()):
                i += 1
            i += 2
            continue
        out.extend(_render_directive(name, arg, _directives(body, numbers)).splitlines())
    return "\n".join(out)


def _render_directive(name: str, arg: str, body: str) -> str:
    if name in ADMONITIONS:
        title = arg if name == "admonition" else name.capitalize()
        return _quote(f"**{title}.** {body.strip()}")
    if name.startswith("prf:") or name == "exercise":
        kind = name.split(":")[-1].capitalize()
        if kind == "Proof":
            return f"*Proof.* {body.strip()}"
        return _quote(f"**{kind}**{f' ({arg})' if arg else ''}. {body.strip()}")
    if name == "math":
        return f"$$\n{body.strip()}\n$$"
    return body


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())


# -- the deck --------------------------------------------------------------------------
def deck_notebook(nb, chapter: int | None):
    """The notebook nbconvert turns into the deck: marked cells, notes, clean outputs."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))   # a copy
    if not any(slide_type(c) for c in nb.cells):
        auto_marks(nb)
    numbers = equation_numbers(nb, chapter)
    cells, started = [], False
    for cell in nb.cells:
        kind, tags = slide_type(cell), cell.metadata.get("tags", [])
        if "remove-cell" in tags or kind == "skip":
            continue
        if kind is None:
            if cell.cell_type == "markdown" and started:   # prose: the speaker's notes
                cells.append(_notes(cell.source, numbers))
            continue
        started = True
        if cell.cell_type == "markdown":
            cells.extend(_markdown_cells(cell, kind, numbers))
        else:
            cells.append(_code_cell(cell, kind))
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def _notes(source: str, numbers) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(myst_to_markdown(source, numbers))
    cell.metadata["slideshow"] = {"slide_type": "notes"}
    return cell


def _markdown_cells(cell, kind: str, numbers) -> list:
    slide, notes = ((cell.source, "") if show(cell) == "all" or kind == "notes"
                    else split_for_slide(cell.source))
    new = nbformat.v4.new_markdown_cell(myst_to_markdown(slide, numbers))
    new.metadata["slideshow"] = {"slide_type": kind}
    return [new] + ([_notes(notes, numbers)] if notes.strip() else [])


def _code_cell(cell, kind: str):
    new = nbformat.v4.new_code_cell(cell.source)
    new.metadata["slideshow"] = {"slide_type": kind}
    if show(cell) == "output":
        new.metadata["tags"] = ["remove-input"]
    outputs = []
    # a slider's cell shows the slider alone: text it prints (a table) would push the
    # slider below the bottom of the slide; it stays in the chapter
    drop = ("stderr", "stdout") if is_explorer(cell) else ("stderr",)
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") in drop:
            continue
        out = nbformat.from_dict(json.loads(json.dumps(out)))
        if "data" in out:   # the kernel-free slider, never a widget view without a kernel
            out["data"].pop("application/vnd.jupyter.widget-view+json", None)
            if "text/html" in out["data"]:
                out["data"].pop("image/png", None)
        outputs.append(out)
    caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
    if caption:
        outputs.append(nbformat.v4.new_output(
            "display_data", {"text/html": f'<div class="vaebook-slide-caption">{caption}</div>'}))
    new.outputs = outputs
    return new


def mathjax_config(config: dict) -> dict:
    """MathJax 3 settings for the decks, with the book's macros from ``_config.yml``."""
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    return {"tex": {"macros": macros, "inlineMath": [["$", "$"], ["\\(", "\\)"]],
                    "displayMath": [["$$", "$$"], ["\\[", "\\]"]], "processEscapes": True,
                    "tags": "none"},
            "options": {"ignoreHtmlClass": "vaebook-data"},
            "chtml": {"fontURL": "mathjax/es5/output/chtml/fonts/woff-v2"}}


def export(nb, path: Path, config: dict) -> int:
    """Write the deck of ``nb`` to ``path``; return its number of slides."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.SlidesExporter.reveal_url_prefix = "reveal.js"
    c.SlidesExporter.reveal_theme = "white"   # its fonts ship with reveal.js (no web fonts)
    c.SlidesExporter.reveal_width = "1280"
    c.SlidesExporter.reveal_height = "800"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    exporter = SlidesExporter(config=c, template_name="vaebook_reveal",
                              extra_template_basedirs=[str(ROOT / "tools" / "slides_template")])
    resources = {"vaebook": {"mathjax_config": mathjax_config(config),
                             "mathjax_url": "mathjax/es5/tex-chtml-full.js"},
                 "metadata": {"name": title_of(nb) or path.stem}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    path.write_text(body)
    return sum(slide_type(c) in ("slide", "subslide") for c in nb.cells)


def title_of(nb) -> str | None:
    for cell in nb.cells:
        m = re.match(r"#\s+(.+)", cell.source.lstrip()) if cell.cell_type == "markdown" else None
        if m:
            return m.group(1).strip()
    return None


# -- inputs: executed notebooks, chapter numbers, JavaScript ----------------------------
def executed(path: Path):
    """``path`` with outputs: from the website's execution cache, or executed now."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    cache = get_cache(str(CACHE))
    try:
        cache.match_cache_notebook(nb)
        return cache.merge_match_into_notebook(nb)[1]
    except KeyError:
        pass
    print(f"  executing {path.relative_to(ROOT)} (not in {CACHE.relative_to(ROOT)})")
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=600, allow_errors=False,
                                 meta_override=True)
    if result.err is not None:
        raise SystemExit(f"{path} failed to execute:\n{result.exc_string}")
    bundle = CacheBundleIn(nb, str(path), data={"execution_seconds": result.time})
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
    return nb


def chapter_numbers() -> dict[str, int]:
    """Chapter number of each document of the numbered parts of ``_toc.yml``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbers, n = {}, 0
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            if part.get("numbered"):
                n += 1
                numbers[entry["file"]] = n
    return numbers


def copy_javascript(out: Path) -> None:
    """reveal.js (dist, notes plugin) and MathJax 3 (one file and its fonts) into ``out``."""
    reveal, mathjax = NODE_MODULES / "reveal.js", NODE_MODULES / "mathjax" / "es5"
    if not (reveal / "dist" / "reveal.js").exists() or not (mathjax / "tex-chtml-full.js").exists():
        raise SystemExit(f"reveal.js or MathJax missing in {NODE_MODULES}: run `make js-deps`")
    for src, dst in [(reveal / "dist", out / "reveal.js" / "dist"),
                     (reveal / "plugin" / "notes", out / "reveal.js" / "plugin" / "notes"),
                     (mathjax / "output" / "chtml" / "fonts" / "woff-v2",
                      out / "mathjax" / "es5" / "output" / "chtml" / "fonts" / "woff-v2")]:
        shutil.copytree(src, dst, dirs_exist_ok=True)
    shutil.copy2(mathjax / "tex-chtml-full.js", out / "mathjax" / "es5" / "tex-chtml-full.js")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    notebooks = [p.resolve() for p in args.notebooks] or [
        *sorted((ROOT / "chapters").glob("*.ipynb")), DEMO]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    copy_javascript(OUT)
    numbers = chapter_numbers()
    decks = []
    for path in notebooks:
        docname = str(path.relative_to(ROOT).with_suffix(""))
        nb = deck_notebook(executed(path), numbers.get(docname))
        target = OUT / f"{path.stem}.slides.html"
        n_slides = export(nb, target, config)
        decks.append((target.name, title_of(nb) or path.stem, n_slides))
        print(f"  {target.relative_to(ROOT)}: {n_slides} slides")
    links = "".join(f'<li><a href="{name}">{title}</a> ({n} slides)</li>'
                    for name, title, n in decks)
    (OUT / "index.html").write_text(f"<!DOCTYPE html><meta charset='utf-8'><title>Slides</title>"
                                    f"<h1>{config['title']}: slides</h1><ul>{links}</ul>")


if __name__ == "__main__":
    sys.exit(main())
