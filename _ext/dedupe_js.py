"""Sphinx extension: drop duplicate script entries (sphinx-thebe emits its inline script twice,
which throws ``Identifier 'THEBE_JS_URL' has already been declared`` on every page)."""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (str(script), str(getattr(script, "attributes", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
