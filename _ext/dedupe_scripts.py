"""Sphinx extension: drop repeated <script> entries from each page.

sphinx-thebe registers its inline configuration script once per read phase, and in a
Jupyter Book build it is registered twice (once with ``filename=None``, once with
``filename=''``), so every page declared ``const THEBE_JS_URL`` twice and the browser
raised "Identifier 'THEBE_JS_URL' has already been declared". Inline scripts with the
same body are the same script, whatever their empty filename.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted((k, str(v)) for k, v in
                                         getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
